//! iPXE scripts as typed commands, rendered once. Pure.

use std::fmt::Write as _;

/// One iPXE command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `echo <text>`.
    Echo(String),
    /// `kernel <url> <args>`.
    Kernel {
        /// Where to fetch the kernel.
        url: String,
        /// The kernel command line.
        args: String,
    },
    /// `initrd <url>`.
    Initrd(String),
    /// `boot`.
    Boot,
    /// `exit`: return to the firmware, which tries the next boot device.
    Exit,
    /// `sanboot --no-describe --drive <n>`: boot a local BIOS drive (`0x80` is the first disk).
    SanbootDrive(u8),
}

/// A whole iPXE script: `#!ipxe` then one command a line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Script {
    commands: Vec<Command>,
}

impl Script {
    /// An empty script.
    pub fn new() -> Script {
        Script::default()
    }

    /// Appends `command`.
    pub fn push(mut self, command: Command) -> Script {
        self.commands.push(command);
        self
    }

    /// The commands in order.
    pub fn commands(&self) -> &[Command] {
        &self.commands
    }

    /// The script text. Control characters in values (a newline in a command line, say) become
    /// spaces, so no value can add a command of its own.
    pub fn render(&self) -> String {
        let mut out = String::from("#!ipxe\n");
        for command in &self.commands {
            // Writing to a String cannot fail.
            let _ = match command {
                Command::Echo(text) => writeln!(out, "echo {}", one_line(text)),
                Command::Kernel { url, args } if args.trim().is_empty() => {
                    writeln!(out, "kernel {}", one_line(url))
                }
                Command::Kernel { url, args } => {
                    writeln!(out, "kernel {} {}", one_line(url), one_line(args))
                }
                Command::Initrd(url) => writeln!(out, "initrd {}", one_line(url)),
                Command::Boot => writeln!(out, "boot"),
                Command::Exit => writeln!(out, "exit"),
                Command::SanbootDrive(drive) => {
                    writeln!(out, "sanboot --no-describe --drive {drive:#04x}")
                }
            };
        }
        out
    }
}

fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_shebang_and_one_command_a_line() {
        let script = Script::new()
            .push(Command::Echo("hello".into()))
            .push(Command::Kernel {
                url: "http://s/k".into(),
                args: "console=ttyS0".into(),
            })
            .push(Command::Initrd("http://s/i".into()))
            .push(Command::Boot)
            .push(Command::SanbootDrive(0x80))
            .push(Command::Exit);
        assert_eq!(
            script.render(),
            "#!ipxe\necho hello\nkernel http://s/k console=ttyS0\ninitrd http://s/i\nboot\n\
             sanboot --no-describe --drive 0x80\nexit\n"
        );
    }

    #[test]
    fn newline_in_a_value_cannot_inject_a_command() {
        let script = Script::new().push(Command::Kernel {
            url: "http://s/k".into(),
            args: "quiet\nshell\r\n".into(),
        });
        assert_eq!(script.render(), "#!ipxe\nkernel http://s/k quiet shell\n");
    }

    #[test]
    fn kernel_without_args_has_no_trailing_space() {
        let script = Script::new().push(Command::Kernel {
            url: "http://s/k".into(),
            args: " ".into(),
        });
        assert_eq!(script.render(), "#!ipxe\nkernel http://s/k\n");
    }
}
