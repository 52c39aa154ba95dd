//! The quantiser's pure core: float parameters and calibration samples in, the integer
//! parameters of `firmware::numerics` out. No training loop, no I/O; every function states its
//! tensor shapes (row-major, flattened into slices).
//!
//! Pipeline (the CLI wires it; see issue 6):
//! 1. activation scales per layer output: [`activation_scale`] (input scale [`INPUT_SCALE`]);
//! 2. NP layers (early convs): [`oihw_to_ohwi`] / [`dense_chw_to_hwc`] to the integer layouts,
//!    then [`quantize_np_layer`] (per-channel i8 weights, i32 bias, [`quantize_multiplier`]);
//! 3. P layers (dense): gradual [`magnitude_prune_mask`] over a [`PruneSchedule`], then INQ
//!    ([`InqParams`], [`inq_step`] over [`INQ_PORTIONS`], retraining the frozen-mask complement
//!    between steps), then [`quantize_p_layer`] ([`encode_p_matrix`], [`p_requant`]);
//! 4. [`CompressionReport`].
//!
//! Rounding is half away from zero everywhere on the host side (weights, bias, multipliers,
//! as TFLite's `std::round`); the integer requantisation itself rounds half up (firmware).

mod calib;
mod error;
mod inq;
mod np;
mod player;
mod prune;
mod report;
mod requant;

pub use calib::{activation_scale, quantize_activation, Calibration, INPUT_SCALE};
pub use error::{QuantError, Result};
pub use inq::{inq_step, max_levels, InqParams, InqStep, INQ_PORTIONS};
pub use np::{
    chw_to_hwc, dense_chw_to_hwc, oihw_to_ohwi, quantize_bias, quantize_np_layer,
    quantize_per_channel, quantize_per_tensor, requant_per_channel, ChannelQuantized, NpLayer,
    QMAX,
};
pub use player::{encode_p_matrix, p_requant, quantize_p_layer, PEncoded, PLayer};
pub use prune::{apply_mask, magnitude_prune_mask, pruned_count, sparsity_of, PruneSchedule};
pub use report::{CompressionReport, LayerCompression, LayerScheme, REQUANT_BYTES};
pub use requant::{quantize_multiplier, requant_value, MULTIPLIER_LIMIT, MULTIPLIER_MIN};
