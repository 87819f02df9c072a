//! Merkle trees (RFC 9162 section 2.1): the reference roots and proofs of the Certificate
//! Transparency test data, and every proof of many tree sizes verifying while any change fails.

use proptest::prelude::*;
use tipline_core::merkle::{leaf_hash, verify_inclusion, Hash, Tree, MAX_PROOF_LEN};

/// The eight leaves of the RFC 6962 test data.
const CT_LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

/// Their tree hashes for sizes 1 to 8.
const CT_ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

fn h(text: &str) -> Hash {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).unwrap();
    out
}

fn ct_leaves(n: usize) -> Vec<Hash> {
    CT_LEAVES[..n]
        .iter()
        .map(|data| leaf_hash(&hex::decode(data).unwrap()))
        .collect()
}

fn leaves(n: usize) -> Vec<Hash> {
    (0..n).map(|i| leaf_hash(&(i as u64).to_be_bytes())).collect()
}

#[test]
fn test_roots_match_the_rfc_6962_test_data() {
    for (n, root) in CT_ROOTS.iter().enumerate() {
        let tree = Tree::new(ct_leaves(n + 1)).unwrap();
        assert_eq!(hex::encode(tree.root()), *root, "size {}", n + 1);
    }
    assert!(Tree::new(Vec::new()).is_none());
}

#[test]
fn test_proofs_match_the_rfc_6962_test_data() {
    // Leaf 0 and leaf 5 of the 8-leaf tree.
    let tree = Tree::new(ct_leaves(8)).unwrap();
    let expected = [
        (
            0,
            [
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            [
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
    ];
    for (index, proof) in expected {
        let proof: Vec<Hash> = proof.iter().map(|p| h(p)).collect();
        assert_eq!(tree.proof(index).unwrap(), proof, "leaf {index}");
        let leaf = ct_leaves(8)[index];
        assert!(verify_inclusion(&leaf, index as u64, 8, &proof, &tree.root()));
    }
}

#[test]
fn test_every_proof_of_every_size_up_to_70_verifies_and_nothing_else_does() {
    for size in 1..=70usize {
        let leaves = leaves(size);
        let tree = Tree::new(leaves.clone()).unwrap();
        let root = tree.root();
        let n = size as u64;
        assert!(tree.proof(size).is_none());
        for (index, leaf) in leaves.iter().enumerate() {
            let proof = tree.proof(index).unwrap();
            let i = index as u64;
            assert!(
                verify_inclusion(leaf, i, n, &proof, &root),
                "size {size} leaf {index}"
            );
            // Another leaf, position or root fails (the size is bound by the signed head).
            let other = leaf_hash(b"another receipt");
            assert!(!verify_inclusion(&other, i, n, &proof, &root));
            if size > 1 {
                assert!(!verify_inclusion(leaf, (i + 1) % n, n, &proof, &root));
            }
            assert!(!verify_inclusion(leaf, n, n, &proof, &root));
            let mut wrong_root = root;
            wrong_root[0] ^= 1;
            assert!(!verify_inclusion(leaf, i, n, &proof, &wrong_root));
            // Each hash of the proof altered, one dropped, one added.
            for k in 0..proof.len() {
                let mut altered = proof.clone();
                altered[k][31] ^= 0x80;
                assert!(!verify_inclusion(leaf, i, n, &altered, &root));
            }
            if !proof.is_empty() {
                assert!(!verify_inclusion(leaf, i, n, &proof[..proof.len() - 1], &root));
            }
            let mut longer = proof.clone();
            longer.push(other);
            assert!(!verify_inclusion(leaf, i, n, &longer, &root));
        }
    }
}

#[test]
fn test_an_overlong_proof_is_refused_before_any_hashing() {
    let leaf = leaf_hash(b"x");
    let proof = vec![leaf; MAX_PROOF_LEN + 1];
    assert!(!verify_inclusion(&leaf, 0, u64::MAX, &proof, &leaf));
}

proptest! {
    #[test]
    fn test_a_leaf_of_a_random_tree_proves_only_itself(size in 1usize..600, pick in any::<prop::sample::Index>(), flip in any::<u8>()) {
        let leaves = leaves(size);
        let tree = Tree::new(leaves.clone()).unwrap();
        let index = pick.index(size);
        let proof = tree.proof(index).unwrap();
        prop_assert!(verify_inclusion(&leaves[index], index as u64, size as u64, &proof, &tree.root()));
        let mut leaf = leaves[index];
        leaf[usize::from(flip) % 32] ^= 1 << (flip % 8);
        prop_assert!(!verify_inclusion(&leaf, index as u64, size as u64, &proof, &tree.root()));
    }
}
