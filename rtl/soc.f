# SoC simulation top (sim/build.rs model "soc"). `$PICORV32/` is the pythondata-cpu-picorv32
# verilog directory in the project venv (or $PICORV32_DIR), never copied into the repo.
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
rtl/soc/sim/SB_SPRAM256KA.sv
rtl/soc/sim/spi_flash_model.sv
rtl/soc/sim/soc_sim_top.sv
$PICORV32/picorv32.v
$PICORV32/picosoc/spimemio.v
$PICORV32/picosoc/ice40up5k_spram.v
