//! Merkle trees as in RFC 9162 section 2.1 (Certificate Transparency version 2), with SHA-256:
//! the tree hash of a list of leaves, the inclusion proof of one leaf, and its verification.
//!
//! The server signs receipts a batch at a time: it signs the root of a tree over the batch's
//! receipts once, and hands each reporter its own receipt with the proof that it is in that
//! tree. A proof shows the sibling hashes on the way to the root, never another receipt.
//!
//! Leaf hash `SHA-256(0x00 || data)`, node hash `SHA-256(0x01 || left || right)`. For `n` leaves
//! the tree splits at the largest power of two below `n`; building it level by level, pairing
//! neighbours and lifting an unpaired last node as it is, gives the same tree.

use ring::digest::{Context, SHA256};

/// A SHA-256 value in the tree.
pub type Hash = [u8; 32];

/// The longest proof any tree of up to `2^64` leaves has.
pub const MAX_PROOF_LEN: usize = 64;

const LEAF_PREFIX: u8 = 0x00;
const NODE_PREFIX: u8 = 0x01;

fn finish(context: Context) -> Hash {
    let mut out = [0u8; 32];
    out.copy_from_slice(context.finish().as_ref());
    out
}

/// The hash of a leaf holding `data`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut context = Context::new(&SHA256);
    context.update(&[LEAF_PREFIX]);
    context.update(data);
    finish(context)
}

/// The hash of an inner node over two children.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut context = Context::new(&SHA256);
    context.update(&[NODE_PREFIX]);
    context.update(left);
    context.update(right);
    finish(context)
}

/// A whole tree, every level kept, so that each leaf's proof is read off without hashing again.
#[derive(Debug, Clone)]
pub struct Tree {
    /// `levels[0]` holds the leaf hashes, the last level the root alone.
    levels: Vec<Vec<Hash>>,
}

impl Tree {
    /// The tree over these leaf hashes; `None` for no leaves (an empty batch has no root).
    pub fn new(leaves: Vec<Hash>) -> Option<Tree> {
        if leaves.is_empty() {
            return None;
        }
        let mut levels = vec![leaves];
        while let Some(below) = levels.last().filter(|level| level.len() > 1) {
            let above = below
                .chunks(2)
                .map(|pair| match pair {
                    [left, right] => node_hash(left, right),
                    // The unpaired last node moves up unchanged.
                    _ => pair[0],
                })
                .collect();
            levels.push(above);
        }
        Some(Tree { levels })
    }

    /// How many leaves.
    pub fn size(&self) -> usize {
        self.levels[0].len()
    }

    /// The tree hash.
    pub fn root(&self) -> Hash {
        self.levels[self.levels.len() - 1][0]
    }

    /// The inclusion proof of leaf `index`, from the leaf's sibling up; `None` past the end.
    pub fn proof(&self, index: usize) -> Option<Vec<Hash>> {
        if index >= self.size() {
            return None;
        }
        let mut proof = Vec::with_capacity(self.levels.len() - 1);
        let mut at = index;
        for level in &self.levels[..self.levels.len() - 1] {
            // A last node without a sibling moves up alone: nothing to show at this level.
            if let Some(sibling) = level.get(at ^ 1) {
                proof.push(*sibling);
            }
            at >>= 1;
        }
        Some(proof)
    }
}

/// Checks that the leaf hash `leaf` is leaf `index` of a tree of `size` leaves with root `root`,
/// by the algorithm of RFC 9162 section 2.1.3.2.
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> bool {
    if index >= size || proof.len() > MAX_PROOF_LEN {
        return false;
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && r == *root
}
