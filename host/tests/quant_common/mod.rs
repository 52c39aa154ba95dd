//! Shared fixture of the quantiser tests: a tiny CNN trained briefly on `data/sample`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use host::data::{load_folder, Dataset};
use host::layers::LayerSpec;
use host::model::{Arch, ModelMeta, Net, Normalization, SavedModel};
use host::optim::OptimConfig;
use host::qmodel::pipeline::QuantizeConfig;
use host::rng::Rng;
use host::train::{train, CheckpointOptions, NoProgress, TrainConfig};

/// The sample data directory.
pub fn sample() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/sample")
}

/// The paper CNN's shape at a fraction of the size: conv3x3x4 + ReLU + pool, conv5x5x4 + ReLU +
/// pool, flatten 676, dense 16 + ReLU, dense 5.
pub fn tiny_arch() -> Arch {
    Arch {
        name: "tiny-cnn".into(),
        input: [64, 64, 3],
        layers: vec![
            LayerSpec::Conv2d {
                in_ch: 3,
                out_ch: 4,
                kernel: 3,
            },
            LayerSpec::Relu,
            LayerSpec::MaxPool2,
            LayerSpec::Conv2d {
                in_ch: 4,
                out_ch: 4,
                kernel: 5,
            },
            LayerSpec::Relu,
            LayerSpec::MaxPool2,
            LayerSpec::Flatten,
            LayerSpec::Dense {
                inputs: 13 * 13 * 4,
                outputs: 16,
            },
            LayerSpec::Relu,
            LayerSpec::Dense {
                inputs: 16,
                outputs: 5,
            },
        ],
    }
}

pub const VAL_SPLIT: f64 = 0.2;
pub const SEED: u64 = 7;

pub struct Fixture {
    pub data: Dataset,
    pub train: Dataset,
    pub val: Dataset,
    pub net: Net,
}

/// Sample data, its split, and the tiny CNN after 3 epochs (computed once per test binary).
pub fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let (data, _) = load_folder(&sample()).unwrap();
        let (tr, va) = data.split_stratified(VAL_SPLIT, SEED).unwrap();
        let mut net = Net::init(tiny_arch(), &mut Rng::new(SEED)).unwrap();
        let cfg = TrainConfig {
            epochs: 3,
            batch_size: 32,
            optim: OptimConfig::adam(2e-3),
            patience: 0,
            seed: SEED,
            augment: None,
            augment_factor: 0,
            keep_last: false,
            ..TrainConfig::default()
        };
        train(
            &mut net,
            &tr,
            &va,
            &cfg,
            None,
            &CheckpointOptions::default(),
            &mut NoProgress,
        )
        .unwrap();
        Fixture {
            data,
            train: tr,
            val: va,
            net,
        }
    })
}

/// Cheap pipeline settings for tests.
pub fn quick_config() -> QuantizeConfig {
    QuantizeConfig {
        sparsity: 0.8,
        bits: 4,
        prune_steps: 2,
        epochs_per_step: 1,
        finetune_epochs: 1,
        patience: 0,
        calib_images: 40,
        seed: SEED,
        ..QuantizeConfig::default()
    }
}

/// Saves the fixture's net as a float model directory (split recorded as the CLI does).
pub fn save_float(dir: &Path) {
    let f = fixture();
    let meta = ModelMeta {
        format: String::new(),
        format_version: 0,
        arch: f.net.arch.clone(),
        classes: f.data.classes.clone(),
        normalization: Normalization::default(),
        num_params: 0,
        weights_file: String::new(),
        weights_sha256: String::new(),
        train_config: serde_json::json!({ "val_split": VAL_SPLIT, "seed": SEED }),
        history: vec![],
        best_epoch: None,
        final_metrics: serde_json::Value::Null,
    };
    SavedModel::save(&f.net, meta, dir).unwrap();
}
