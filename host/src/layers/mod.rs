//! Layers of the float network: specifications (data, serialised in `model.json`) and the
//! forward/backward kernels.
//!
//! # Layout contract (shared with the integer side, see `firmware::numerics`)
//! * Activations are NHWC, `[n, h, w, c]`, channel fastest. A flattened activation of one image
//!   has index `(y * W + x) * C + c` — flatten is a no-op on memory, so dense weights that follow
//!   a flatten need no permutation for the integer pipeline.
//! * Conv weights `[out_ch, k, k, in_ch]` (OHWI, i.e. `[cout][ky][kx][cin]`), bias `[out_ch]`.
//! * Dense weights `[outputs, inputs]`, bias `[outputs]`.
//! * Convolutions are "valid" (no padding), stride 1; max-pool is 2x2 stride 2 with floor
//!   (a trailing odd row/column is dropped).
//!
//! # Speed
//! Convolutions are direct register-blocked kernels on the HWC tensors (see the `conv`
//! module): no im2col buffer, no GEMM packing, output channels padded to a
//! multiple of 8 in registers only. They are compiled with AVX2+FMA (selected at run time, no
//! `target-cpu` flag needed) and portably. Work is parallel over images with rayon. Weight
//! gradients are reduced over fixed chunks of [`GRAD_CHUNK`] images in a fixed order, so
//! results do not depend on the thread count. Dense layers use `matrixmultiply::sgemm`.
//!
//! # Modules
//! * `spec` — [`LayerSpec`], [`LayerError`], [`Cache`];
//! * `gemm` — [`gemm`] and the im2col reference conv of one image;
//! * `conv` — the direct conv kernels of one image (AVX2+FMA and portable);
//! * `sparse` — the sparse conv backward of one image;
//! * `batch` — conv layers over a batch (plain, with ReLU, fused with max-pool) and backward;
//! * `ops` — dense, ReLU, max-pool, dropout, softmax and the loss over a batch.
//!
//! Every public item is re-exported here: `layers::conv_forward` and the like are the paths
//! to use.

mod batch;
mod conv;
mod gemm;
mod ops;
mod sparse;
mod spec;

pub use batch::{
    conv_backward, conv_forward, conv_forward_act, conv_relu_pool_backward, conv_relu_pool_forward,
    GRAD_CHUNK, POOL_NO_GRAD,
};
pub use conv::force_portable_kernels;
pub use gemm::{col2im_add, conv_forward_image, gemm, im2col, Mat};
pub use ops::{
    dense_backward, dense_forward, dropout_forward, maxpool_backward, maxpool_forward,
    relu_backward, relu_forward, softmax_cross_entropy, softmax_cross_entropy_smoothed,
    softmax_rows,
};
pub use spec::{Cache, LayerError, LayerSpec};
