# The README's two commands: `make demo` and `make test`. Both build .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Offline asset lookup: the shared data beside the checkout (see README, "Assets").
export STREAMER_ASSETS ?= $(abspath ../shared)

.PHONY: demo test test-fast setup system-packages clean

$(BIN)/streamer: setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[train,test,cluster]'
	touch $@

setup: $(BIN)/streamer system-packages

# Xvfb, xdotool and xrandr for the live-window and screen-capture tests, Chromium for the
# review-page tests; installed when we are root.
system-packages:
	@if ! command -v Xvfb >/dev/null || ! command -v xdotool >/dev/null || ! command -v xrandr >/dev/null || ! command -v chromium >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq xvfb xdotool x11-xserver-utils chromium >/dev/null) \
	      || echo "warning: could not install xvfb/xdotool/chromium; GUI and browser tests will be skipped"; \
	  else echo "note: install xvfb, xdotool and chromium to run the GUI and browser tests"; fi; \
	fi

# The setup (venv + install, skipped when up to date) is timed so the demo's table shows it:
# DEMO_STARTED is taken when make reads this file, before the prerequisite is built.
# DEMO_ARGS: e.g. --quick (fewer epochs, short clip) or --out DIR; see docs/demo.md.
demo: DEMO_STARTED := $(shell date +%s)
demo: $(BIN)/streamer
	$(BIN)/python samples/demo.py --setup-seconds $$(( $$(date +%s) - $(DEMO_STARTED) )) $(DEMO_ARGS)

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The inner loop: everything but the slow chains and TensorFlow training (a few minutes).
test-fast: setup
	$(BIN)/python -m pytest -m "not slow and not train" $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) demo-out .pytest_cache
