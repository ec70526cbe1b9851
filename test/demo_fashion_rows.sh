#!/usr/bin/env bash
# test/demo_fashion_rows.sh SPLIT [N]: print the fashion-mnist images of SPLIT
# ("train" or "t10k", from Debian's dataset-fashion-mnist) as COPY text rows
# "row<TAB>label<TAB>[p1,...,p784]", pixels as 0..255, at most N rows.
set -euo pipefail
dir=/usr/share/datasets/fashion-mnist
split=$1
n=${2:-100000}
# IDX files: 8-byte label header, 16-byte image header, then one byte each
paste \
	<(gzip -dc "$dir/$split-labels-idx1-ubyte.gz" | tail -c +9 | od -An -v -tu1 -w1 | tr -d ' ') \
	<(gzip -dc "$dir/$split-images-idx3-ubyte.gz" | tail -c +17 | od -An -v -tu1 -w784 \
		| sed -E 's/^ +//; s/ +/,/g; s/.*/[&]/') \
	| awk -v n="$n" 'NR <= n { print NR "\t" $0 }'
