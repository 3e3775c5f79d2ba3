# Sourced by the launchers: sets JAVA to a Java 17+ runtime, or stops with what to install.
if [ -n "${FEDPRUNE_JAVA_HOME:-}" ]; then
  JAVA="$FEDPRUNE_JAVA_HOME/bin/java"
elif [ -n "${JAVA_HOME:-}" ]; then
  JAVA="$JAVA_HOME/bin/java"
else
  JAVA=$(command -v java || true)
fi
if [ -z "$JAVA" ] || [ ! -x "$JAVA" ]; then
  echo "$(basename "$0"): no Java runtime found (${JAVA:-none on the PATH}); install Java 17 or later" \
       "(Debian, Ubuntu: apt-get install openjdk-17-jre-headless) or set FEDPRUNE_JAVA_HOME" >&2
  exit 127
fi
