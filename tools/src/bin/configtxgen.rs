//! `configtxgen`: application channel genesis blocks (command line as Fabric's configtxgen,
//! with Go-style flags: `-flag value`, `-flag=value`, `--flag value`).

use std::path::PathBuf;
use std::process::ExitCode;

use prost::Message;
use weft_tools::ToolError;
use weft_tools::configtxgen;

const USAGE: &str = "usage: configtxgen [flags]

  -profile NAME        profile from configtx.yaml to use
  -channelID ID        channel ID of the generated block
  -outputBlock PATH    write the channel genesis block to PATH
  -configPath DIR      directory holding configtx.yaml (default: $FABRIC_CFG_PATH, else .)
  -inspectBlock PATH   print the block at PATH as JSON
  -version             print version information";

/// Upper bound on a block file read by -inspectBlock.
const BLOCK_FILE_BYTES_MAX: u64 = 512 * 1024 * 1024;

#[derive(Default)]
struct Flags {
    profile: Option<String>,
    channel_id: Option<String>,
    output_block: Option<PathBuf>,
    config_path: Option<PathBuf>,
    inspect_block: Option<PathBuf>,
    version: bool,
}

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

fn parse_flags(args: &[String]) -> Result<Flags, ToolError> {
    let mut flags = Flags::default();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let Some(body) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            return Err(ToolError::Usage(format!(
                "unexpected argument {arg:?}\n{USAGE}"
            )));
        };
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        if name == "version" {
            flags.version = true;
            continue;
        }
        let value = match inline {
            Some(v) => v,
            None => iter
                .next()
                .cloned()
                .ok_or_else(|| ToolError::Usage(format!("flag -{name} needs a value\n{USAGE}")))?,
        };
        match name {
            "profile" => flags.profile = Some(value),
            "channelID" => flags.channel_id = Some(value),
            "outputBlock" => flags.output_block = Some(PathBuf::from(value)),
            "configPath" => flags.config_path = Some(PathBuf::from(value)),
            "inspectBlock" => flags.inspect_block = Some(PathBuf::from(value)),
            "outputCreateChannelTx"
            | "outputAnchorPeersUpdate"
            | "inspectChannelCreateTx"
            | "printOrg"
            | "asOrg"
            | "channelCreateTxBaseProfile" => {
                return Err(ToolError::Usage(format!(
                    "flag -{name} is not supported by weft configtxgen (application channel \
                     genesis blocks and -inspectBlock only)"
                )));
            }
            _ => return Err(ToolError::Usage(format!("unknown flag -{name}\n{USAGE}"))),
        }
    }
    Ok(flags)
}

fn run(args: &[String]) -> Result<(), ToolError> {
    let flags = parse_flags(args)?;
    if flags.version {
        println!(
            "configtxgen (weft):\n Version: {}",
            env!("CARGO_PKG_VERSION")
        );
        return Ok(());
    }
    if flags.output_block.is_none() && flags.inspect_block.is_none() {
        println!("{USAGE}");
        return Ok(());
    }
    if let Some(output) = &flags.output_block {
        let channel_id = flags
            .channel_id
            .as_deref()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                ToolError::Usage("Missing channelID, please specify it with '-channelID'".into())
            })?;
        let profile = flags.profile.as_deref().ok_or_else(|| {
            ToolError::Usage("The '-profile' is required when '-outputBlock' is specified".into())
        })?;
        let dir = flags
            .config_path
            .clone()
            .or_else(|| std::env::var_os("FABRIC_CFG_PATH").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("."));
        let config_file = configtxgen::config::find_config_file(&dir)?;
        let block = configtxgen::genesis_block_for_profile(&config_file, profile, channel_id)?;
        std::fs::write(output, block.encode_to_vec()).map_err(|e| ToolError::write(output, e))?;
    }
    if let Some(path) = &flags.inspect_block {
        let meta = std::fs::metadata(path).map_err(|e| ToolError::read(path, e))?;
        if meta.len() > BLOCK_FILE_BYTES_MAX {
            return Err(ToolError::Usage(format!(
                "{} is larger than {BLOCK_FILE_BYTES_MAX} bytes",
                path.display()
            )));
        }
        let bytes = std::fs::read(path).map_err(|e| ToolError::read(path, e))?;
        let json = configtxgen::inspect::block_to_json(&bytes)?;
        let text = serde_json::to_string_pretty(&json)
            .map_err(|e| ToolError::Usage(format!("cannot print JSON: {e}")))?;
        println!("{text}");
    }
    Ok(())
}
