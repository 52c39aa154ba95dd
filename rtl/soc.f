# SoC simulation top (sim/build.rs model "soc"): the board SoC, the stand-ins for the vendor
# primitives and the flash chip, PicoRV32. `$PICORV32/` is the pythondata-cpu-picorv32 verilog
# directory in the project venv (or $PICORV32_DIR), never copied into the repo.
# Format: filelist/src/lib.rs.
-f rtl/board/icebreaker/soc_rtl.f
rtl/soc/sim/SB_SPRAM256KA.sv
rtl/soc/sim/spi_flash_model.sv
rtl/soc/sim/soc_sim_top.sv
$PICORV32/picorv32.v
$PICORV32/picosoc/ice40up5k_spram.v
