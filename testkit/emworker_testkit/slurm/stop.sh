#!/bin/bash
# Stop the harness cluster started by start.sh (same directory argument). Kills only the
# processes whose pid files are under it, after checking their names.
H=$(realpath -m "${1:-.test-run/slurm}")
export SLURM_CONF="$H/etc/slurm.conf"
[ -f "$SLURM_CONF" ] && for u in emw_alice emw_bob root; do timeout 10 scancel --quiet --user="$u" 2>/dev/null; done
for spec in slurmd:run/slurmd.pid slurmctld:run/slurmctld.pid munged:munge/munged.pid; do
    name=${spec%%:*}; file="$H/${spec#*:}"
    pid=$(cat "$file" 2>/dev/null) || continue
    [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = "$name" ] || continue
    kill "$pid" 2>/dev/null
    for _ in $(seq 50); do
        [ -r "/proc/$pid/stat" ] && ! awk '{exit $3!="Z"}' "/proc/$pid/stat" || break
        sleep 0.1
    done
done
exit 0
