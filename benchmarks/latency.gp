# latency.gp: latency against throughput for get and set, kv-server beside
# kv-ceiling, one point per in-flight level (1, 4, 16, 64, 256).
#
#   gnuplot -e "sweep='sweep.dat'; png='latency.png'" latency.gp
#
# sweep.dat holds four blocks written by report.py: get kv-server, get
# ceiling, set kv-server, set ceiling; columns in_flight ops_per_s p50_us
# p99_us.

set terminal pngcairo size 1400,560 font "sans,10"
set output png
set multiplot layout 1,2 title "kvstore: latency against throughput, 100-byte values (scripts/bench)"
set logscale y
set format y "%g"
set grid ytics mytics xtics
set xlabel "throughput (calls/s)"
set ylabel "latency (us, log scale)"
set key top left
set xrange [0:*]

do for [op = 0:1] {
  set title (op == 0 ? "get" : "set")
  kv = 2 * op
  ceiling = 2 * op + 1
  plot sweep index kv using 2:3 with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "kv-server p50", \
       sweep index kv using 2:4 with linespoints lw 2 pt 5 dt 2 lc rgb "#1f77b4" title "kv-server p99", \
       sweep index ceiling using 2:3 with linespoints lw 2 pt 7 lc rgb "#d62728" title "ceiling p50", \
       sweep index ceiling using 2:4 with linespoints lw 2 pt 5 dt 2 lc rgb "#d62728" title "ceiling p99", \
       sweep index kv using 2:3:(sprintf("%d", $1)) with labels offset 0,1 tc rgb "#1f77b4" notitle, \
       sweep index ceiling using 2:3:(sprintf("%d", $1)) with labels offset 0,-1 tc rgb "#d62728" notitle
}
unset multiplot
