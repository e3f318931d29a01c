//! Tells dependents' build scripts (straddle-build) which dialects this build enables,
//! so the generator plans for exactly the dialects the derive compiles.
fn main() {
    let dialects: Vec<&str> = [("POSTGRES", "postgres"), ("MYSQL", "mysql"), ("SQLITE", "sqlite")]
        .into_iter()
        .filter(|(feature, _)| std::env::var_os(format!("CARGO_FEATURE_{feature}")).is_some())
        .map(|(_, key)| key)
        .collect();
    println!("cargo:dialects={}", dialects.join(","));
    println!("cargo:rerun-if-changed=build.rs");
}
