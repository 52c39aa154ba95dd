//! Which Verilated SoC [`crate::soc::run`] drives: the board's iterative multiplier (`soc`) or
//! PicoRV32's fast multiplier (`soc_fastmul`, `-GFastMul=1`). Both are generated from the same
//! top (`rtl/soc/sim/soc_sim_top.sv`); this enum forwards the port accessors the harness uses,
//! so the run loop is written once.

use crate::vl::{SocFastMulModel, SocModel};

/// One of the two SoC builds (boxed: the models are large and live for a whole run).
pub(crate) enum SocVariant {
    /// `ENABLE_MUL` (iterative, ~40 cycles per `mul`): the shipped board configuration.
    Iterative(Box<SocModel>),
    /// `ENABLE_FAST_MUL` (the multiplier on the UP5K's DSPs).
    FastMul(Box<SocFastMulModel>),
}

macro_rules! forward {
    ($( $(#[$doc:meta])* fn $name:ident(&$($self_mut:ident)? ; $($arg:ident: $ty:ty),*) $(-> $ret:ty)?; )*) => {
        impl SocVariant {
            $(
                $(#[$doc])*
                #[inline]
                pub(crate) fn $name(&$($self_mut)? self, $($arg: $ty),*) $(-> $ret)? {
                    match self {
                        SocVariant::Iterative(m) => m.$name($($arg),*),
                        SocVariant::FastMul(m) => m.$name($($arg),*),
                    }
                }
            )*
        }
    };
}

impl SocVariant {
    /// What a run stops on to look at the outputs: a UART byte, a write to `SYS.EXIT`, a trap
    /// (the same `STOP_*` bits in both builds: one top).
    pub(crate) const STOP: u64 =
        SocModel::STOP_UART_VALID_O | SocModel::STOP_EXIT_VALID_O | SocModel::STOP_TRAP_O;

    /// A fresh model: the fast-multiply build if `fast_mul`.
    pub(crate) fn new(fast_mul: bool) -> Self {
        if fast_mul {
            SocVariant::FastMul(Box::default())
        } else {
            SocVariant::Iterative(Box::default())
        }
    }
}

forward! {
    /// Plusargs (before the first tick).
    fn set_command_args(&mut; args: &[&str]);
    /// Opens an FST trace.
    fn open_trace(&mut; path: &std::path::Path) -> std::io::Result<()>;
    /// Flushes the trace.
    fn flush_trace(&mut;);
    /// One clock cycle.
    fn tick(&mut;);
    /// Up to `max` clock cycles, stopping after one that raises an output of `stop`.
    fn run(&mut; max: u64, stop: u64) -> u64;
    /// Reset input.
    fn set_rst_ni(&mut; v: u8);
    /// UART byte strobe.
    fn uart_valid_o(&;) -> u8;
    /// UART byte.
    fn uart_data_o(&;) -> u8;
    /// `SYS.EXIT` strobe.
    fn exit_valid_o(&;) -> u8;
    /// `SYS.EXIT` code.
    fn exit_code_o(&;) -> u32;
    /// CPU trap.
    fn trap_o(&;) -> u8;
    /// Last fetch address.
    fn pc_o(&;) -> u32;
    /// Retired instructions.
    fn instret_o(&;) -> u32;
}

const _: () = assert!(
    SocModel::STOP_UART_VALID_O == SocFastMulModel::STOP_UART_VALID_O
        && SocModel::STOP_EXIT_VALID_O == SocFastMulModel::STOP_EXIT_VALID_O
        && SocModel::STOP_TRAP_O == SocFastMulModel::STOP_TRAP_O
);
