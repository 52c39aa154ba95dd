//! Which Verilated SoC [`crate::soc::run`] and [`crate::soc::Session`] drive, by configuration
//! name ([`SocConfig`]): the iCEBreaker board SoC (`soc`, the default: SERV), the same with
//! PicoRV32 and its fast multiplier (`soc_fastmul`, `-GCpu=0 -GFastMul`), or the PicoRV32
//! reference with the default engines (`soc_wide`, `-GCpu=0 -GWide`). All are generated from one top (`rtl/soc/sim/soc_sim_top.sv`); this enum forwards
//! the port accessors the harness uses, so the run loop is written once.

use crate::soc_config::SocConfig;
use crate::vl::{SocFastMulModel, SocModel, SocWideModel};

/// One of the SoC builds (boxed: the models are large and live for a whole run).
pub(crate) enum SocVariant {
    /// `soc`: the board configuration.
    Board(Box<SocModel>),
    /// `soc_fastmul`: the board configuration with PicoRV32 and `ENABLE_FAST_MUL`.
    FastMul(Box<SocFastMulModel>),
    /// `soc_wide`: PicoRV32 with the default engines.
    Wide(Box<SocWideModel>),
}

macro_rules! forward {
    ($( $(#[$doc:meta])* fn $name:ident(&$($self_mut:ident)? ; $($arg:ident: $ty:ty),*) $(-> $ret:ty)?; )*) => {
        impl SocVariant {
            $(
                $(#[$doc])*
                #[inline]
                pub(crate) fn $name(&$($self_mut)? self, $($arg: $ty),*) $(-> $ret)? {
                    match self {
                        SocVariant::Board(m) => m.$name($($arg),*),
                        SocVariant::FastMul(m) => m.$name($($arg),*),
                        SocVariant::Wide(m) => m.$name($($arg),*),
                    }
                }
            )*
        }
    };
}

impl SocVariant {
    /// What a run stops on to look at the outputs: a UART byte, a write to `SYS.EXIT`, a trap
    /// (the same `STOP_*` bits in every build: one top).
    pub(crate) const STOP: u64 =
        SocModel::STOP_UART_VALID_O | SocModel::STOP_EXIT_VALID_O | SocModel::STOP_TRAP_O;

    /// A fresh model of `config`.
    pub(crate) fn new(config: SocConfig) -> Self {
        match config {
            SocConfig::Icebreaker => SocVariant::Board(Box::default()),
            SocConfig::IcebreakerFastMul => SocVariant::FastMul(Box::default()),
            SocConfig::Wide => SocVariant::Wide(Box::default()),
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
    /// UART receive line (idle high).
    fn set_uart_rx_i(&mut; v: u8);
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
        && SocModel::STOP_UART_VALID_O == SocWideModel::STOP_UART_VALID_O
        && SocModel::STOP_EXIT_VALID_O == SocWideModel::STOP_EXIT_VALID_O
        && SocModel::STOP_TRAP_O == SocWideModel::STOP_TRAP_O
);
