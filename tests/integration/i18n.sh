#!/usr/bin/env bash
# Messages are translated: with LANG=ja_JP.UTF-8 and the Japanese catalog
# built from po/ja.po, --help and probe's failure report are Japanese; with
# LANG=C they are English. KEXBRIDGE_LOCALEDIR points kexbridge at the
# catalog in the test's temp folder, so nothing needs to be installed.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

kb_require sshd ssh-keygen msgfmt locale
[ -f "$KB_SRCDIR/po/ja.po" ] || kb_skip "po/ja.po does not exist yet"
grep -Eqi '^ja_JP\.utf-?8$' <<<"$(locale -a)" ||
    kb_skip "the ja_JP.UTF-8 locale is not generated (run contrib/deps.sh)"

mkdir -p "$KB_TMP/locale/ja/LC_MESSAGES"
msgfmt -c -o "$KB_TMP/locale/ja/LC_MESSAGES/kexbridge.mo" "$KB_SRCDIR/po/ja.po" ||
    kb_fail "msgfmt -c rejects po/ja.po"

# Succeeds when stdin has Japanese characters: hiragana, katakana or CJK
# ideographs. Python decodes UTF-8 whatever the test's own locale is.
has_japanese() {
	"$KB_PY" -c 'import re, sys
text = sys.stdin.buffer.read().decode("utf-8", "replace")
sys.exit(0 if re.search("[\u3040-\u30ff\u4e00-\u9fff]", text) else 1)'
}

# Checks that $1 has Japanese characters (when $2 is yes) or none (no).
assert_japanese() {
	local found=no

	if printf '%s' "$1" | has_japanese; then
		found=yes
	fi
	if [ "$found" = "$2" ]; then
		kb_pass "$3"
	else
		kb_fail "$3: Japanese found: $found, in: $(printf '%s' "$1" | head -n 3)"
	fi
}

# Runs kexbridge in locale $1 with the other arguments; sets out, status.
kb_in_locale() {
	local lang=$1

	shift
	status=0
	out=$(env -u LANGUAGE -u LC_MESSAGES LC_ALL= LANG="$lang" \
	    KEXBRIDGE_LOCALEDIR="$KB_TMP/locale" \
	    timeout 30 "$KEXBRIDGE" "$@" 2>&1) || status=$?
}

kb_in_locale ja_JP.UTF-8 --help
kb_say "--help in ja_JP.UTF-8: $(printf '%s' "$out" | head -n 3)"
assert_japanese "$out" yes "--help in ja_JP.UTF-8 prints Japanese"
kb_in_locale C --help
kb_assert_match "$out" '[Uu]sage|run|probe' "--help in C prints English"
assert_japanese "$out" no "--help in C has no Japanese"

kb_start_sshd legacy
kb_in_locale ja_JP.UTF-8 probe --timeout 5 --profile ucsm-4.0 "127.0.0.1:$SSHD_PORT"
kb_say "probe in ja_JP.UTF-8:"
printf '%s\n' "$out" | head -n 20
kb_assert_eq "$status" 1 "probe in ja_JP.UTF-8 still exits 1"
assert_japanese "$out" yes "probe's failure report is Japanese"
kb_assert_match "$out" 'KexAlgorithms' "the sshd_config keyword stays untranslated"
kb_in_locale C probe --timeout 5 --profile ucsm-4.0 "127.0.0.1:$SSHD_PORT"
kb_assert_eq "$status" 1 "probe in C exits 1"
assert_japanese "$out" no "probe in C is English"

kb_finish
