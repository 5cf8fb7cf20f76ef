# The two commands: `make demo` and `make test`. Everything they need is installed here,
# into a virtualenv at .venv/ (plus Debian's chromium for the browser tests and postgresql for the store tests).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
ROOT ?= egocurate-data
PORT ?= 8501

LEROBOT_VENV := $(CURDIR)/.venv-lerobot
LEROBOT061_VENV := $(CURDIR)/.venv-lerobot061

.PHONY: demo test install chromium postgresql lerobot-venv lerobot061-venv lint bench clean

demo: install
	$(VENV)/bin/egocurate --root $(ROOT) demo --port $(PORT)

test: install chromium postgresql lerobot-venv lerobot061-venv
	LEROBOT_VENV=$(LEROBOT_VENV) LEROBOT061_VENV=$(LEROBOT061_VENV) $(PY) -m pytest -q tests

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

# Debian's chromium: Playwright cannot download its own browser here.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

# Debian's PostgreSQL server binaries: the store tests start a throwaway server of their own (tests/postgres.py).
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql >/dev/null; }

# LeRobot's own loader, in a venv of its own (its pins clash with ours), to check our exports.
lerobot-venv:
	bash scripts/lerobot_venv.sh $(LEROBOT_VENV)

# The current LeRobot (0.6.1) as a second oracle: its reader, subtasks and quantile normalisation.
lerobot061-venv:
	bash ../shared/tools/lerobot061/build_venv.sh $(LEROBOT061_VENV)

lint: install
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) $(LEROBOT_VENV) $(LEROBOT061_VENV) $(ROOT)
