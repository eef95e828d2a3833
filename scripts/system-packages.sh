# Sourced by test.sh: the Debian packages the test suite drives for real, installed where missing when we
# may (root with apt-get, as in CI): Chromium for the web app's browser test, poppler-utils (pdftotext) to
# read exported PDFs back, Pango for WeasyPrint's PDF export. Elsewhere the tests that need them skip and
# say which package to install.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v pdftotext >/dev/null 2>&1 || missing+=(poppler-utils)
ldconfig -p 2>/dev/null | grep -q libpangoft2-1.0 || missing+=(libpango-1.0-0 libpangoft2-1.0-0)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${missing[*]} (Debian packages the tests use)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/sleuth-apt.log 2>&1 \
      || { apt-get update -q >>/tmp/sleuth-apt.log 2>&1 \
           && apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/sleuth-apt.log 2>&1; } \
      || echo "could not install ${missing[*]} (see /tmp/sleuth-apt.log); the tests that need them will skip"
  else
    echo "not installed: ${missing[*]}; the tests that need them will skip (as root, test.sh installs them)"
  fi
fi
