# vars.mk - print the main Makefile's package and library lists for the
# fuzz builds, so that a new daemon dependency needs no change here:
#   make -s --no-print-directory -f Makefile -f tests/fuzz/vars.mk fuzz-vars
.PHONY: fuzz-vars
fuzz-vars:
	@echo "MAIN_PKGS='$(PKGS)'"
	@echo "MAIN_LIBS='$(LIBS_DAEMON)'"
