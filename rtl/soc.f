# SoC simulation top (sim/build.rs model "soc"): the board SoC, the stand-ins for the vendor
# primitives and the flash chip, the CPUs (PicoRV32, SERV). `$PICORV32/` and `$SERV/` are the
# pythondata-cpu-picorv32 and pythondata-cpu-serv verilog directories in the project venv (or
# $PICORV32_DIR, $SERV_DIR), never copied into the repo.
# Format: filelist/src/lib.rs.
-f rtl/board/icebreaker/soc_rtl.f
rtl/soc/sim/SB_SPRAM256KA.sv
rtl/soc/sim/spi_flash_model.sv
rtl/soc/sim/soc_sim_top.sv
-f rtl/cpus.f
