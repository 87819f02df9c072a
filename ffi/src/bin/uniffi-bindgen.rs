//! uniffi's bindings generator, built from this crate so that its version always matches the
//! library's: `scripts/bindings` runs it on the built library (`generate --library`).

fn main() {
    uniffi::uniffi_bindgen_main()
}
