fn main() -> std::process::ExitCode {
    straddle_cli::main()
}
