# Sources of the iCEBreaker build, in read order (yosys `read_verilog -defer -sv`), relative to
# the repository root; `$PICORV32/` is the venv's pythondata_cpu_picorv32 data directory
# (`.venv/bin/python -c "import pythondata_cpu_picorv32 as p; print(p.data_location)"`, or
# $PICORV32_DIR). The same RTL as rtl/soc.f without the simulation models, plus the board top.
# Every file listed here is hashed into the place-and-route cache key.
rtl/gen/accel_pkg.sv
rtl/gen/soc_boot_rom.sv
rtl/accel/conv_pkg.sv
rtl/accel/conv_wbuf.sv
rtl/accel/conv_lane.sv
rtl/accel/conv_fetch.sv
rtl/accel/conv_agen.sv
rtl/accel/conv_post.sv
rtl/accel/conv_engine.sv
rtl/pengine/pengine_requant.sv
rtl/pengine/pengine.sv
rtl/soc/soc_uart_tx.sv
rtl/soc/soc_uart_rx.sv
rtl/soc/soc_ram_arbiter.sv
rtl/soc/soc_core.sv
rtl/board/icebreaker/icebreaker_soc.sv
rtl/board/icebreaker/icebreaker_top.sv
$PICORV32/picorv32.v
$PICORV32/picosoc/spimemio.v
$PICORV32/picosoc/ice40up5k_spram.v
