//! Finds the iPXE binaries that Debian's `ipxe` package installs, at run time.
//!
//! Debian bookworm's `ipxe` (1.0.0+git-20190125) ships, in `/usr/lib/ipxe/`: `undionly.kpxe`
//! (BIOS, chainloaded by a PXE ROM), `ipxe.efi` (x86_64 UEFI, a symlink to `/boot/ipxe.efi`) and
//! `snponly.efi` (UEFI, uses the firmware's network driver). It ships no `snp.efi`; serve
//! `snponly.efi` under that name if a DHCP policy asks for it.

use std::path::{Path, PathBuf};

use crate::source::MemorySource;

/// The Debian package that provides the binaries.
pub const DEBIAN_PACKAGE: &str = "ipxe";

/// Where Debian installs them.
pub const DEBIAN_DIR: &str = "/usr/lib/ipxe";

/// Failure to find or load an iPXE binary.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A binary is in none of the searched directories.
    #[error(
        "ipxe binary {file} not found in {}; install the Debian package `{DEBIAN_PACKAGE}` (apt-get install -y {DEBIAN_PACKAGE})",
        display_dirs(.searched)
    )]
    NotInstalled {
        /// The missing file name.
        file: &'static str,
        /// The directories searched.
        searched: Vec<PathBuf>,
    },
    /// A binary exists but cannot be read.
    #[error("failed to read ipxe binary {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying failure.
        #[source]
        source: std::io::Error,
    },
}

fn display_dirs(dirs: &[PathBuf]) -> String {
    dirs.iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Paths of the iPXE binaries found, symlinks resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpxeBinaries {
    /// `undionly.kpxe`: for BIOS machines whose PXE ROM chainloads it over TFTP.
    pub undionly_kpxe: PathBuf,
    /// `ipxe.efi`: for x86_64 UEFI machines.
    pub ipxe_efi: PathBuf,
    /// `snponly.efi`: for UEFI machines, using the firmware's own NIC driver.
    pub snponly_efi: PathBuf,
}

impl IpxeBinaries {
    /// Finds the binaries in Debian's location.
    ///
    /// # Errors
    /// [`Error::NotInstalled`] naming the package when a file is missing.
    pub fn locate() -> Result<Self, Error> {
        Self::locate_in(&[Path::new(DEBIAN_DIR)])
    }

    /// Finds each binary in the first of `dirs` that has it.
    ///
    /// # Errors
    /// [`Error::NotInstalled`] naming the package when a file is missing from all of them.
    pub fn locate_in(dirs: &[&Path]) -> Result<Self, Error> {
        let find = |file: &'static str| {
            dirs.iter()
                .map(|dir| dir.join(file))
                .find_map(|path| path.canonicalize().ok().filter(|p| p.is_file()))
                .ok_or_else(|| Error::NotInstalled {
                    file,
                    searched: dirs.iter().map(|d| d.to_path_buf()).collect(),
                })
        };
        Ok(IpxeBinaries {
            undionly_kpxe: find("undionly.kpxe")?,
            ipxe_efi: find("ipxe.efi")?,
            snponly_efi: find("snponly.efi")?,
        })
    }

    /// The binaries with the names clients request.
    pub fn files(&self) -> [(&'static str, &Path); 3] {
        [
            ("undionly.kpxe", self.undionly_kpxe.as_path()),
            ("ipxe.efi", self.ipxe_efi.as_path()),
            ("snponly.efi", self.snponly_efi.as_path()),
        ]
    }

    /// Reads all binaries (a few hundred KiB) into `source` under their Debian names.
    ///
    /// Loading them into memory lets a [`MemorySource`] serve them even though `ipxe.efi` is a
    /// symlink out of `/usr/lib/ipxe`, which a [`crate::DirSource`] rooted there would refuse.
    ///
    /// # Errors
    /// [`Error::Read`] when a file cannot be read.
    pub fn load_into(&self, source: &mut MemorySource) -> Result<(), Error> {
        for (name, path) in self.files() {
            let bytes = std::fs::read(path).map_err(|source| Error::Read {
                path: path.to_path_buf(),
                source,
            })?;
            source.insert(name, bytes);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FileSource;

    #[test]
    fn missing_binaries_error_names_the_debian_package() {
        let dir = tempfile::tempdir().unwrap();
        let err = IpxeBinaries::locate_in(&[dir.path()]).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("undionly.kpxe"), "{message}");
        assert!(message.contains("apt-get install -y ipxe"), "{message}");
    }

    #[test]
    fn binaries_are_found_across_directories_and_loaded_by_name() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        std::fs::write(a.path().join("undionly.kpxe"), b"bios").unwrap();
        std::fs::write(b.path().join("real.efi"), b"uefi").unwrap();
        std::os::unix::fs::symlink(b.path().join("real.efi"), a.path().join("ipxe.efi")).unwrap();
        std::fs::write(b.path().join("snponly.efi"), b"snp").unwrap();
        let found = IpxeBinaries::locate_in(&[a.path(), b.path()]).unwrap();
        assert_eq!(found.ipxe_efi, b.path().join("real.efi").canonicalize().unwrap());
        let mut source = MemorySource::new();
        found.load_into(&mut source).unwrap();
        assert_eq!(source.open("ipxe.efi").unwrap().size_bytes, 4);
        assert_eq!(source.open("snponly.efi").unwrap().size_bytes, 3);
    }

    /// Runs against the real package when it is installed (`apt-get install -y ipxe`).
    #[test]
    fn debian_ipxe_package_is_found_when_installed() {
        match IpxeBinaries::locate() {
            Ok(found) => {
                let mut source = MemorySource::new();
                found.load_into(&mut source).unwrap();
                assert!(source.open("undionly.kpxe").unwrap().size_bytes > 1000);
            }
            Err(err) => println!("skipping: {err}"),
        }
    }
}
