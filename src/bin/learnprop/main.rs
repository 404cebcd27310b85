//! `learnprop`: attribution maps for an image classifier (an ONNX file or a
//! model of the crate's zoo) from the command line.
//!
//! ```sh
//! learnprop explain --model model.onnx --image cat.jpg --method learned --method integrated-gradients
//! learnprop evaluate --model model.onnx --images photos/ --method learned --method saliency
//! ```
//!
//! Errors are one line on stderr and a non-zero exit code.

mod evaluate;
mod explain;
mod images;
mod methods;
mod models;

use clap::{Parser, Subcommand};

/// Attribution maps for image classifiers: learned propagation rules and
/// the classic methods, for ONNX models and the crate's zoo.
#[derive(Parser, Debug)]
#[command(name = "learnprop", version, about)]
struct Cli {
    /// Worker threads of the CPU backend (default: one per core).
    #[arg(long, global = true)]
    threads: Option<usize>,
    /// Seed of the methods that draw noise (SmoothGrad).
    #[arg(long, global = true, default_value_t = 0)]
    seed: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Explains one image: prints the top-5 classes and writes the maps.
    Explain(explain::ExplainArgs),
    /// Scores methods on a folder of images with MoRF/LeRF removal curves.
    Evaluate(evaluate::EvaluateArgs),
}

/// An error of the tool: one line for the user.
pub type Failure = String;

fn run(cli: Cli) -> Result<(), Failure> {
    if let Some(threads) = cli.threads {
        if threads == 0 || threads > 4096 {
            return Err(format!("--threads {threads}: give 1 to 4096 threads"));
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
            .map_err(|e| format!("--threads: {e}"))?;
    }
    match cli.command {
        Command::Explain(args) => explain::run(&args, cli.seed),
        Command::Evaluate(args) => evaluate::run(&args, cli.seed),
    }
}

fn main() {
    let cli = Cli::parse();
    // Panics are reported as one line below, not as a backtrace (the
    // library turns a model's panics into errors on its own).
    std::panic::set_hook(Box::new(|_| {}));
    let outcome = std::panic::catch_unwind(|| run(cli));
    let message = match outcome {
        Ok(Ok(())) => return,
        Ok(Err(message)) => message,
        Err(payload) => {
            let text = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown".into());
            format!("internal error: {text}")
        }
    };
    eprintln!("learnprop: error: {}", message.replace('\n', " "));
    std::process::exit(1);
}
