//! The derive's compile errors and compile-pass cases, against real compiler output.
//! `.stderr` files pin each message and its span: a changed message is a reviewed change
//! (`TRYBUILD=overwrite cargo test -p straddle-tests --test compile`).

#[test]
fn derive() {
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/fail/*.rs");
    t.pass("ui/pass/*.rs");
}
