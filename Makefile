# Shorthands for tasks.py, which does the set-up itself (see README).
STACK ?= dev
FORMAT ?= text

.PHONY: preview test bench
preview:
	python3 tasks.py preview $(STACK) --format $(FORMAT)
test:
	python3 tasks.py test
bench:
	python3 tasks.py bench
