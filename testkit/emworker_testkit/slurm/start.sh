#!/bin/bash
# Start a single-node Slurm cluster (munged, slurmctld, slurmd; no accounting database; a job completion log for `sacct -c`) on 127.0.0.1
# under $1 (default .test-run/slurm). Installs Debian's packages if missing. Idempotent.
# Prints SLURM_CONF=<path> on success.
set -euo pipefail
H=$(realpath -m "${1:-.test-run/slurm}")
install_packages() {
    local pkgs="slurmctld slurmd slurm-client munge"
    dpkg -s $pkgs >/dev/null 2>&1 && return 0
    export DEBIAN_FRONTEND=noninteractive
    local apt=(apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=120)
    "${apt[@]}" $pkgs >"$H/apt.log" 2>&1 || { apt-get update >>"$H/apt.log" 2>&1; "${apt[@]}" $pkgs >>"$H/apt.log" 2>&1; }
}
alive() { local pid; pid=$(cat "$1" 2>/dev/null) || return 1
          [ -r "/proc/$pid/stat" ] && ! awk '{exit $3!="Z"}' "/proc/$pid/stat"; }
mkdir -p "$H"/{etc,state,spool,log,run,dev,munge}; chmod 755 "$H/munge"
install_packages
export SLURM_CONF="$H/etc/slurm.conf"
if alive "$H/run/slurmctld.pid" && alive "$H/run/slurmd.pid" && scontrol ping >/dev/null 2>&1; then
    echo "SLURM_CONF=$SLURM_CONF"; exit 0
fi
# test users, so jobs can belong to someone other than root (sbatch --uid)
for u in emw_alice emw_bob; do id -u "$u" >/dev/null 2>&1 || useradd -M -s /usr/sbin/nologin "$u"; done
[ -s "$H/etc/munge.key" ] || mungekey -c -b 1024 -k "$H/etc/munge.key"
alive "$H/munge/munged.pid" || munged --key-file="$H/etc/munge.key" --socket="$H/munge/munge.socket.2" \
    --pid-file="$H/munge/munged.pid" --log-file="$H/log/munged.log" --seed-file="$H/munge/munged.seed"
GRES=""
if [ -c "$H/dev/nvidia0" ] || { mknod "$H/dev/nvidia0" c 195 0 && mknod "$H/dev/nvidia1" c 195 1; } 2>/dev/null; then
    GRES="Gres=gpu:2"; echo "Name=gpu File=$H/dev/nvidia[0-1]" >"$H/etc/gres.conf"
else
    : >"$H/etc/gres.conf"
fi
MEM=$(awk '/MemTotal/ {print int($2/1024*0.9)}' /proc/meminfo)
cat >"$SLURM_CONF" <<CONF
ClusterName=emwtest
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$H/munge/munge.socket.2
StateSaveLocation=$H/state
SlurmdSpoolDir=$H/spool
SlurmctldPidFile=$H/run/slurmctld.pid
SlurmdPidFile=$H/run/slurmd.pid
SlurmctldLogFile=$H/log/slurmctld.log
SlurmdLogFile=$H/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=100
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
ReturnToService=2
MailProg=/bin/true
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$H/log/jobcomp.txt
InactiveLimit=0
KillWait=5
MinJobAge=300
Waittime=0
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
GresTypes=gpu
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$MEM $GRES State=UNKNOWN
PartitionName=cryo-cpu Nodes=localhost Default=YES MaxTime=INFINITE State=UP
PartitionName=cryo-gpu Nodes=localhost MaxTime=INFINITE State=UP
PartitionName=debug Nodes=localhost MaxTime=INFINITE State=UP
CONF
rm -rf "$H/state"/* "$H/spool"/*
slurmctld -c
slurmd -N localhost
for _ in $(seq 100); do
    if sinfo -h -N -o '%T' 2>/dev/null | grep -qxE '(idle|mixed|allocated|drain(ed|ing))'; then
        echo "SLURM_CONF=$SLURM_CONF"; exit 0
    fi
    sleep 0.1
done
echo "Slurm did not become ready; logs in $H/log" >&2
tail -5 "$H/log/slurmctld.log" "$H/log/slurmd.log" >&2 || true
exit 1
