//! Which database a message is about: when one run drives several, every line the runner
//! prints for one of them starts with its name.

tokio::task_local! {
    static TARGET: String;
}

/// Run `f` with its messages prefixed by `name`.
pub(crate) async fn scoped<F: std::future::Future>(name: &str, f: F) -> F::Output {
    TARGET.scope(name.to_string(), f).await
}

/// `[name] ` inside [`scoped`], nothing otherwise.
pub(crate) fn prefix() -> String {
    TARGET.try_with(|name| format!("[{name}] ")).unwrap_or_default()
}

/// Whether messages are about one of several databases (progress bars would interleave).
pub(crate) fn is_scoped() -> bool {
    TARGET.try_with(|_| ()).is_ok()
}

/// `eprintln!`, prefixed with the database it is about when a run drives several.
macro_rules! note {
    ($($arg:tt)*) => {
        eprintln!("{}{}", $crate::targets::label::prefix(), format_args!($($arg)*))
    };
}
pub(crate) use note;
