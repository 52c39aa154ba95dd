# The board SoC's RTL (icebreaker_soc and everything under it but PicoRV32), in read order:
# shared by the bitstream (sources.f) and the Verilated SoC (rtl/soc.f), which add only their
# top and the vendor primitives or their stand-ins. Format: filelist/src/lib.rs (a file reached
# twice, accel_pkg here, is read once at its first position).
rtl/gen/accel_pkg.sv
rtl/gen/soc_boot_rom.sv
-f rtl/accel.f
-f rtl/pengine.f
rtl/soc/soc_uart_tx.sv
rtl/soc/soc_uart_rx.sv
rtl/soc/soc_ram_arbiter.sv
rtl/soc/soc_spram.sv
rtl/soc/soc_flash.sv
rtl/soc/soc_core.sv
rtl/board/icebreaker/icebreaker_soc.sv
