//! `cryptogen`: generate Fabric key material (command line as Fabric's cryptogen).

use std::path::PathBuf;
use std::process::ExitCode;

use weft_tools::ToolError;
use weft_tools::cryptogen;

const USAGE: &str = "usage: cryptogen <command> [flags]

commands:
  generate [--config=FILE] [--output=DIR]   generate key material (output defaults to crypto-config)
  showtemplate                              print a sample configuration
  version                                   print version information";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<(), ToolError> {
    let Some((command, rest)) = args.split_first() else {
        println!("{USAGE}");
        return Ok(());
    };
    match command.as_str() {
        "generate" => generate(rest),
        "showtemplate" => {
            print!("{}", cryptogen::SAMPLE_CONFIG);
            Ok(())
        }
        "version" => {
            println!("cryptogen (weft):\n Version: {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(ToolError::Usage(format!(
            "unknown command {other:?}\n{USAGE}"
        ))),
    }
}

fn generate(args: &[String]) -> Result<(), ToolError> {
    let mut config_path: Option<PathBuf> = None;
    let mut output = PathBuf::from("crypto-config");
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (arg.as_str(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| iter.next().cloned())
                .ok_or_else(|| ToolError::Usage(format!("flag {name} needs a value\n{USAGE}")))
        };
        match name {
            "--config" => config_path = Some(PathBuf::from(value()?)),
            "--output" => output = PathBuf::from(value()?),
            _ => {
                return Err(ToolError::Usage(format!("unknown flag {arg:?}\n{USAGE}")));
            }
        }
    }
    let (text, source) = match &config_path {
        Some(path) => (
            std::fs::read_to_string(path).map_err(|e| ToolError::read(path, e))?,
            path.clone(),
        ),
        None => (
            cryptogen::SAMPLE_CONFIG.to_string(),
            PathBuf::from("<built-in template>"),
        ),
    };
    let config = cryptogen::parse(&text).map_err(|message| ToolError::Yaml {
        path: source,
        message,
    })?;
    cryptogen::generate(&config, &output, &mut |domain| println!("{domain}"))
}
