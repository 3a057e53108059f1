#!/usr/bin/env bash
# npm run lint:api: the OpenAPI document, built in-process (no server), through Redocly's
# recommended rules and Spectral's `oas` ruleset; any error or warning fails.
set -euo pipefail
cd "$(dirname "$0")/.."
# Redocly would otherwise report usage and look for a newer version over the network.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
npx tsx scripts/write-api-docs.ts "$dir"
npx redocly lint --config redocly.yaml "$dir/openapi.json"
npx spectral lint --ruleset .spectral.yaml --fail-severity=warn "$dir/openapi.json"
