# MediaNest: `make demo` runs the hub on its embedded default with simulators,
# `make test` runs the whole suite. Both install everything into .venv first.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
REQUIREMENTS := pyproject.toml setup.py constraints.txt plugins/plex/pyproject.toml \
	plugins/overseerr/pyproject.toml plugins/notify/pyproject.toml \
	tests/fixtures/medianest-hello/pyproject.toml

.PHONY: install demo test lint validate-deploy bench drill clean messages

install: $(STAMP)

$(STAMP): $(REQUIREMENTS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24" "setuptools>=77" wheel
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt \
		-e ".[test]" -e plugins/plex -e plugins/overseerr -e plugins/notify \
		-e tests/fixtures/medianest-hello
	@touch $@

# PORT=8081 (or MEDIANEST_SERVER__PORT) serves the demo on another port; HOST likewise.
demo: $(STAMP)
	$(BIN)/medianest demo $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT))

# Tests run in parallel processes, one per core (at most 8: each needs a Redis server of its
# own); PYTEST_PARALLEL= runs them in this process. Tests marked slow (they start processes of
# their own) run too: PYTEST_ARGS='-m "not slow"' leaves them out while working on something.
# Line and branch coverage of the whole run, in the terminal and in build/coverage.xml; the
# run fails below COVERAGE_FLOOR percent (the measured figure, rounded down). For a part of
# the suite: make test PYTEST_ARGS=tests/sync COVERAGE_FLOOR=0
PYTEST_PARALLEL ?= -n auto --maxprocesses 8 --dist worksteal
COVERAGE_FLOOR ?= 93
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) --cov --cov-report=term \
		--cov-report=xml:build/coverage.xml --cov-fail-under=$(COVERAGE_FLOOR) $(PYTEST_ARGS)

# The import contracts are checked on a real (non-editable) install of the packages, so the
# checker sees the modules exactly as a wheel ships them (build/lib goes first: setuptools
# would copy a module deleted since the last build into the install).
# mypy reads the sources through build/typecheck/medianest/<part> -> <part>/ and checks them in
# strict mode (the exceptions are listed in [tool.mypy] in pyproject.toml).
LINT_DIR := build/lint-packages
TYPECHECK_DIR := build/typecheck/medianest
TYPED_PACKAGES := -p medianest.sdk -p medianest.core -p medianest.config -p medianest.workers \
	-p medianest_plex -p medianest_overseerr -p medianest_notify -p medianest_hello
lint: $(STAMP) validate-deploy
	$(BIN)/ruff check .
	rm -rf $(LINT_DIR) build/lib build/bdist.* plugins/*/build
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation \
		--target $(LINT_DIR) . ./plugins/plex ./plugins/overseerr ./plugins/notify
	PYTHONPATH=$(LINT_DIR) $(BIN)/lint-imports
	mkdir -p $(TYPECHECK_DIR)
	for part in core sdk config workers; do ln -sfn ../../../$$part $(TYPECHECK_DIR)/$$part; done
	$(BIN)/mypy $(TYPED_PACKAGES)

# The deployment files (docker/): the Dockerfile through hadolint (no finding allowed; a rule
# ignored inline says why), the Compose file against the Compose specification's schema, the
# Kubernetes manifests against the API schemas of KUBERNETES_VERSION, strictly (an unknown
# field fails). kustomization.yaml is kustomize's, not a Kubernetes object: tests/deploy checks
# it lists every manifest.
KUBERNETES_VERSION ?= 1.30.0
KUBERNETES_MANIFESTS := $(filter-out %/kustomization.yaml,$(wildcard docker/kubernetes/*.yaml))
validate-deploy: $(STAMP)
	$(BIN)/hadolint docker/Dockerfile
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec docker/compose.yaml
	$(BIN)/kubernetes-validate --kubernetes-version $(KUBERNETES_VERSION) --strict --quiet \
		$(KUBERNETES_MANIFESTS)

# The pages' messages: extract them and add the new ones, untranslated, to every catalogue
# (core/web/locale/<locale>/LC_MESSAGES/messages.po); then translate those. The catalogues
# carry no creation date, so branches that both add messages merge without conflicts there.
messages: $(STAMP)
	mkdir -p build
	$(BIN)/pybabel extract -F babel.cfg -k N_ --no-location -o build/messages.pot .
	$(BIN)/pybabel update -i build/messages.pot -d core/web/locale -D messages \
		--no-fuzzy-matching --ignore-obsolete
	sed -i '/^"POT-Creation-Date: /d' core/web/locale/*/LC_MESSAGES/messages.po  # no churn

bench: $(STAMP)
	$(BIN)/python -m tests.benchmarks $(BENCH_ARGS)

# The local scale-out drill: a private PostgreSQL and Redis, 3 replicas behind HAProxy, 2 workers
# and the Plex simulators on loopback; restarts and kills one piece at a time under load and
# fails when a target is missed (docs/operations.md). DRILL_ARGS=--quick is the CI form.
drill: $(STAMP)
	$(BIN)/python -m tests.drill $(DRILL_ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info .demo bench-results
