#!/usr/bin/env bash
# Runs seqcore's tests against an extension built with AddressSanitizer + UndefinedBehaviorSanitizer,
# then a LeakSanitizer pass over every kernel family (tools/leak_check.py).
#
#   tools/sanitize.sh                 the whole test suite, fuzzing at the "sanitize" profile (1,000 examples)
#   tools/sanitize.sh tests/fuzz -x   any pytest arguments instead of the whole suite
#
# The package is built by pip exactly as a user's install is (scikit-build-core, build isolation), with
# SEQCORE_SANITIZE passed to CMake, into a private folder that goes first on PYTHONPATH; the build folder is
# kept, so a second run only recompiles what changed.  Python itself is not instrumented, so the ASan
# runtime is preloaded.  Environment: SEQCORE_SANITIZE (default address,undefined), SANITIZE_DIR (default
# build/sanitize), HYPOTHESIS_PROFILE (default sanitize).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
sanitizers="${SEQCORE_SANITIZE:-address,undefined}"
# The interpreter itself, not a wrapper script (pyenv's shim is bash): the preloaded runtime below would
# instrument the wrapper too, and LSan would report the shell's own leaks.
py="$(python -c 'import sys; print(sys.executable)')"
work="${SANITIZE_DIR:-$root/build/sanitize}"
stage="$work/site"
mkdir -p "$work"

echo "== building seqcore with -fsanitize=$sanitizers into $stage"
start=$SECONDS
rm -rf "$stage"
SEQCORE_SANITIZE="$sanitizers" "$py" -m pip install --quiet --no-deps --target "$stage" \
    --config-settings=build-dir="$work/cmake" "$root"
echo "   built in $((SECONDS - start)) s"

export PYTHONPATH="$stage${PYTHONPATH:+:$PYTHONPATH}"
if [[ "$sanitizers" == *address* ]]; then
    # libstdc++ goes in with the runtime: python does not link it, and ASan must find the real
    # __cxa_throw when it starts, or the first C++ exception aborts the process.
    preload=""
    for lib in libasan.so libstdc++.so; do
        path="$(${CXX:-g++} -print-file-name=$lib)"
        if [[ ! -e "$path" ]]; then
            echo "sanitize.sh: $lib was not found (${CXX:-g++} -print-file-name=$lib)" >&2
            exit 2
        fi
        preload="$preload${preload:+:}$(readlink -f "$path")"
    done
    export LD_PRELOAD="$preload${LD_PRELOAD:+:$LD_PRELOAD}"
fi
# Reports go to files: pytest captures the test's stderr, and a report printed there dies with the process.
logs="$work/logs"
rm -rf "$logs" && mkdir -p "$logs"
show_reports() {
    local status=$?
    if compgen -G "$logs/*" > /dev/null; then
        echo "== sanitizer reports:" >&2
        cat "$logs"/* >&2
        status=1
    fi
    exit $status
}
trap show_reports EXIT
# Leaks are checked by the separate pass below: at exit CPython leaves objects that LSan would report.
# allocator_may_return_null: a huge request gives NumPy's MemoryError, as without ASan, not an abort.
export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:detect_stack_use_after_return=1:log_path=$logs/asan${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$logs/ubsan${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export HYPOTHESIS_PROFILE="${HYPOTHESIS_PROFILE:-sanitize}"

# Refuse to report a clean run that did not use the instrumented build.
"$py" - "$sanitizers" <<'PY'
import sys

import seqcore._core as core

flags = core.build_info()["cxx_flags"]
if f"-fsanitize={sys.argv[1]}" not in flags:
    sys.exit(f"sanitize.sh: imported {core.__file__}, which was built without it (flags: {flags})")
print(f"== testing {core.__file__}")
PY

start=$SECONDS
"$py" -m pytest -q -p no:cacheprovider "${@:-tests}"
echo "== tests under $sanitizers passed in $((SECONDS - start)) s"

if [[ "$sanitizers" == *address* ]]; then
    start=$SECONDS
    "$py" "$root/tools/leak_check.py"
    echo "== leak check passed in $((SECONDS - start)) s"
fi
