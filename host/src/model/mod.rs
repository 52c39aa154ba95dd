//! Networks as data, in three parts with one-way dependencies:
//! * [`arch`] — an [`Arch`] (input shape + layer list) and the built-in architectures;
//! * [`net`] — a [`Net`]: the architecture with its parameters, forward and backward passes;
//! * [`dir`] — the on-disk model directory format (`model.json` + `weights.safetensors`,
//!   [`SavedModel`]), written atomically.
//!
//! [`ModelError`] is shared by the three. Everything is re-exported here, so `model::Net`,
//! `model::SavedModel`, … name the same items as before the split.

pub mod arch;
pub mod dir;
pub mod net;

use std::path::PathBuf;

use crate::layers::LayerError;

pub use arch::Arch;
pub use dir::{
    bytes_to_tensors, sha256_hex, tensors_to_bytes, write_dir_atomic, EpochStats, ModelMeta,
    NamedFile, Normalization, SavedModel, FORMAT_NAME, FORMAT_VERSION, META_FILE, WEIGHTS_FILE,
};
pub use net::{Mode, Net, Param};

/// Image side of the architectures; owned by the data pipeline ([`crate::data::IMAGE_SIZE`]),
/// re-exported here so `model::IMAGE_SIZE` keeps working.
pub use crate::data::IMAGE_SIZE;

/// Errors of model construction, forward/backward and (de)serialisation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A layer does not fit its input.
    #[error(transparent)]
    Layer(#[from] LayerError),
    /// The architecture breaks a rule of the integer pipeline or the classifier.
    #[error("architecture: {0}")]
    Arch(String),
    /// Unknown architecture name.
    #[error("unknown architecture `{0}` (known: paper-cnn, mlp)")]
    UnknownArch(String),
    /// File-system error.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// `model.json` could not be parsed or written.
    #[error("{path}: {source}")]
    Json {
        /// The path.
        path: PathBuf,
        /// Cause.
        source: serde_json::Error,
    },
    /// The directory is of another format or version.
    #[error("{path}: format {found_name} v{found_version}, this build reads {FORMAT_NAME} v{FORMAT_VERSION}")]
    Version {
        /// The path.
        path: PathBuf,
        /// Format name found.
        found_name: String,
        /// Version found.
        found_version: u32,
    },
    /// The weights file does not match the hash recorded in `model.json`.
    #[error("{path}: sha256 {found} does not match model.json ({expected})")]
    Hash {
        /// The weights path.
        path: PathBuf,
        /// Recorded hash.
        expected: String,
        /// Hash of the file.
        found: String,
    },
    /// A tensor is missing or has the wrong shape or dtype.
    #[error("tensor {name}: expected shape {expected:?}, got {got}")]
    Tensor {
        /// Tensor name.
        name: String,
        /// Shape the architecture needs.
        expected: Vec<usize>,
        /// What was found.
        got: String,
    },
    /// A `model.json` field holds a value this build cannot use.
    #[error("{path}: field `{field}` is {found}, but {supported}")]
    Field {
        /// The `model.json` path.
        path: PathBuf,
        /// The field (`arch.input`).
        field: &'static str,
        /// What it holds.
        found: String,
        /// What is supported.
        supported: String,
    },
    /// The safetensors container is malformed.
    #[error("safetensors: {0}")]
    SafeTensors(String),
}
