//! One module per command. Each maps its arguments to library calls and prints the result.

pub mod archive;
pub mod artifacts;
pub mod check_egress;
pub mod check_images;
pub mod cluster;
pub mod conformance;
pub mod controller;
pub mod generate;
pub mod hardware;
pub mod images;
pub mod manifests;
pub mod metal;
pub mod validate;
pub mod version;

/// Prints an error chain the way every command reports failures: the error, each cause on its
/// own `caused by:` line.
pub fn print_error(err: &anyhow::Error) {
    eprintln!("error: {err}");
    for cause in err.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
}
