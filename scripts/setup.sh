#!/usr/bin/env bash
# Installs what lelp needs beyond cargo.
#
# The README's two commands (burn's Flex backend) and the `ndarray` feature
# are pure Rust: nothing to install; this checks the toolchain.
#   --backends  installs what the `wgpu` and `tch` features need on a
#               CPU-only Debian machine: Mesa's lavapipe Vulkan driver (apt)
#               and a CPU libtorch 2.9.0 (scripts/install-libtorch.sh) at
#               $LIBTORCH (default ~/.cache/lelp-libtorch).
#   --python    installs numpy, for tests/data/reference.py and the benches.
#   --text      fetches all-MiniLM-L6-v2 (scripts/fetch-minilm.sh) and
#               paraphrase-MiniLM-L3-v2 (scripts/fetch-minilm-l3.sh, its
#               ONNX export converted) for the `text` feature's tests and
#               examples; the text example
#               fetches the SpamAssassin corpus itself (scripts/fetch-spam.sh).
set -euo pipefail
if ! command -v cargo >/dev/null; then
    echo "cargo not found: install Rust (rustup) first" >&2
    exit 1
fi
need="1.95"
have=$(rustc --version | awk '{print $2}')
if [ "$(printf '%s\n' "$need" "$have" | sort -V | head -1)" != "$need" ]; then
    echo "rustc $have is older than $need (burn 0.22.1 needs $need)" >&2
    exit 1
fi
for arg in "$@"; do
    case "$arg" in
        --python)
            python3 -m pip install --quiet "numpy==2.4.6"
            ;;
        --backends)
            # wgpu on CPU: Mesa's lavapipe Vulkan driver
            if ! ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 || ! ldconfig -p | grep -q libvulkan.so.1; then
                export DEBIAN_FRONTEND=noninteractive
                apt-get update -qq
                apt-get install -y -qq mesa-vulkan-drivers libvulkan1
            fi
            # tch: a CPU libtorch 2.9.0 assembled from registry wheels
            bash "$(dirname "$0")/install-libtorch.sh" "${LIBTORCH:-$HOME/.cache/lelp-libtorch}"
            ;;
        --text)
            bash "$(dirname "$0")/fetch-minilm.sh"
            bash "$(dirname "$0")/fetch-minilm-l3.sh"
            ;;
        *)
            echo "unknown option $arg (use --python, --backends, --text)" >&2
            exit 2
            ;;
    esac
done
echo "setup ok: rustc $have"
