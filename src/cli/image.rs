//! `repro image`: build, list, export and import the pinned builder images. Progress goes to
//! stderr (drawn only on a terminal); results go to stdout.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::anyhow;
use indicatif::HumanBytes;

use crate::image::{
    Cache, ExportFormat, ImageError, ImageRecord, ImageStore, ListedImage, PinnedImage, Progress, Recipe,
};

#[derive(clap::Args, Debug)]
pub struct ImageArgs {
    #[command(subcommand)]
    pub command: ImageCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum ImageCommand {
    /// Make a builder image with mmdebstrap (unless cached) and load it into the engine.
    Build {
        /// Recipe name (default, rust, go, node) or path to a recipe .toml file.
        name: String,
        /// Run mmdebstrap even if a tarball is cached, and pin the new tarball.
        #[arg(long)]
        rebuild: bool,
        /// Only make and cache the tarball; do not load it into the engine.
        #[arg(long)]
        no_load: bool,
    },
    /// List cached builder images and the repro images loaded in the engine.
    Ls {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Write a cached image to a file another machine can `repro image import`.
    Export {
        /// Recipe name, or a digest of the tarball, config, manifest or image ID.
        name: String,
        /// Where to write it.
        #[arg(short, long)]
        output: PathBuf,
        /// Write the exact mmdebstrap tarball instead of the image archive.
        #[arg(long)]
        rootfs: bool,
    },
    /// Push a builder image to a registry (loaded into the engine first if missing); prints the
    /// reference by digest engines pull, and remembers it for `repro fleet run --registry`.
    Push {
        /// The registry: HOST or HOST:PORT (engines accept plain HTTP only on 127.0.0.0/8 unless
        /// configured otherwise).
        #[arg(value_parser = super::fleet::parse_registry)]
        registry: String,
        /// Recipe name, or a digest of the tarball, config, manifest or image ID.
        #[arg(default_value = "default")]
        name: String,
    },
    /// Check an image archive or root filesystem tarball, add it to the cache, pin it and load it.
    Import {
        /// An archive from `repro image export`, or a root filesystem tarball.
        file: PathBuf,
        /// Which recipe a plain root filesystem tarball stands for.
        #[arg(long)]
        name: Option<String>,
        /// Refuse the file unless its tarball, config or manifest has this digest.
        #[arg(long, value_name = "DIGEST")]
        expect: Option<String>,
    },
}

/// Runs `repro image …` and returns the exit code.
pub fn run(args: ImageArgs) -> anyhow::Result<i32> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let mut work = Box::pin(dispatch(args.command));
        tokio::select! {
            result = &mut work => result.map_err(with_hint),
            _ = tokio::signal::ctrl_c() => {
                eprintln!("interrupted: stopping, and letting mmdebstrap clean up if it runs");
                // Dropping the work stops mmdebstrap in order (its chroot is unmounted and
                // deleted) and removes our temporary files.
                drop(work);
                Err(with_hint(ImageError::Interrupted))
            }
        }
    })
}

/// Our errors with their hint on a second line, in the house `error:` / `hint:` style.
pub fn with_hint(error: ImageError) -> anyhow::Error {
    match error.hint() {
        Some(hint) => anyhow!("{error}\nhint: {hint}"),
        None => anyhow::Error::new(error),
    }
}

async fn dispatch(command: ImageCommand) -> Result<i32, ImageError> {
    let store = ImageStore::new(Cache::from_env()?);
    let progress: Arc<dyn Progress> = super::progress::for_terminal(false);
    match command {
        ImageCommand::Build {
            name,
            rebuild,
            no_load,
        } => {
            let recipe = Recipe::load(&name)?;
            let built = store.build(&recipe, rebuild, progress.clone()).await?;
            if let Some(time) = built.mmdebstrap_time {
                println!(
                    "built {} with {} in {:.0} s",
                    recipe.name,
                    built.record.made_by,
                    time.as_secs_f64()
                );
            } else {
                println!(
                    "{}: using the cached tarball (pass --rebuild to run mmdebstrap again)",
                    recipe.name
                );
            }
            match &built.previous_sha256 {
                Some(prev) if *prev == built.record.tarball_sha256 => {
                    println!("identical, bit for bit, to the tarball pinned before");
                }
                Some(prev) => {
                    println!("differs from the tarball pinned before ({prev}); the new one is pinned now")
                }
                None => {}
            }
            if no_load {
                print_record(&built.record, None);
            } else {
                let pinned = store.load(&built.record, progress).await?;
                print_pinned(&pinned);
            }
        }
        ImageCommand::Ls { json } => {
            let (rows, engine_error) = store.list().await?;
            if let Some(e) = engine_error {
                eprintln!("warning: listing the cache only: {e}");
            }
            if json {
                let rows: Vec<serde_json::Value> = rows.iter().map(row_json).collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&rows).map_err(std::io::Error::other)?
                );
            } else {
                print_table(&rows);
            }
        }
        ImageCommand::Export { name, output, rootfs } => {
            let record = store.resolve(&name)?;
            let format = if rootfs {
                ExportFormat::Rootfs
            } else {
                ExportFormat::Archive
            };
            store.export(&record, format, &output, progress).await?;
            let what = if rootfs {
                "root filesystem tarball"
            } else {
                "image archive"
            };
            println!(
                "wrote the {what} of {} (tarball sha256:{}) to {}",
                record.name,
                record.tarball_sha256,
                output.display()
            );
        }
        ImageCommand::Push { registry, name } => {
            let record = store.resolve(&name)?;
            let reference = store.push(&record, &registry, progress).await?;
            println!("{reference}");
        }
        ImageCommand::Import { file, name, expect } => {
            let pinned = store
                .import(&file, name.as_deref(), expect.as_deref(), progress)
                .await?;
            print_pinned(&pinned);
        }
    }
    Ok(0)
}

fn print_record(record: &ImageRecord, tarball: Option<&std::path::Path>) {
    println!("{} {}", record.name, record.tag);
    if let Some(path) = tarball {
        println!("  tarball   {}", path.display());
    }
    println!(
        "  sha256    {} ({}, {} bytes)",
        record.tarball_sha256,
        HumanBytes(record.tarball_size),
        record.tarball_size
    );
    println!("  layer     {}", record.layer_digest);
    println!("  config    {}", record.config_digest);
    println!("  manifest  {}", record.manifest_digest);
    if let Some(id) = &record.image_id {
        println!("  image ID  {id}");
    }
    println!("  recipe    {}", record.recipe_sha256);
    println!(
        "  made by   {}, {} packages",
        record.made_by,
        record.packages.len()
    );
}

fn print_pinned(pinned: &PinnedImage) {
    print_record(&pinned.record, Some(&pinned.tarball));
}

fn short(digest: &str) -> &str {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    hex.get(..12).unwrap_or(hex)
}

fn print_table(rows: &[ListedImage]) {
    println!(
        "{:<10} {:<14} {:>11} {:<14} {:<14} STATE",
        "NAME", "TARBALL", "SIZE", "CONFIG", "IMAGE ID"
    );
    for row in rows {
        let (name, tarball, size, config) = match &row.record {
            Some(r) => (
                r.name.as_str(),
                short(&r.tarball_sha256),
                HumanBytes(r.tarball_size).to_string(),
                short(&r.config_digest),
            ),
            None => ("-", "-", "-".to_owned(), "-"),
        };
        let id = row.engine.as_ref().map(|e| short(&e.id)).unwrap_or("-");
        let mut state = Vec::new();
        if row.record.is_some() {
            state.push(if row.pinned { "cached, pinned" } else { "cached" });
        }
        if let Some(engine) = &row.engine {
            state.push("loaded");
            if row.record.is_none() {
                state.push(engine.tags.first().map(String::as_str).unwrap_or("untagged"));
            }
        }
        println!(
            "{name:<10} {tarball:<14} {size:>11} {config:<14} {id:<14} {}",
            state.join(", ")
        );
    }
}

fn row_json(row: &ListedImage) -> serde_json::Value {
    let mut value = serde_json::json!({
        "pinned": row.pinned,
        "loaded": row.engine.is_some(),
        "engine": row.engine.as_ref().map(|e| serde_json::json!({"id": e.id, "tags": e.tags, "size": e.size})),
    });
    if let (Some(record), Some(map)) = (&row.record, value.as_object_mut()) {
        let mut record = serde_json::to_value(record).unwrap_or_default();
        if let Some(r) = record.as_object_mut() {
            // The package list is long; `ls` is an overview.
            r.remove("packages");
            map.extend(r.clone());
        }
    }
    value
}
