# PNG plot of bench/macro_mdd_load.sh (bench/run.sh calls it with
# dir='bench/results'): per load step, the MDD's output rate over the
# sockets and its forwarded packets per MDD CPU-second (left axis), and the
# CPU shares of the MDD and of the load generators (right axis).
set terminal pngcairo size 1000,600 noenhanced font ",9"
set datafile separator "\t"
set output dir."/macro_mdd_load.png"
set title "perc-mdd over loopback UDP: packets/s out, per MDD CPU-second, CPU shares (x: video packets per frame per sender)"
set xlabel "packets per video frame (120 frames/s per sender)"
set ylabel "packets per second"
set y2label "CPU share of one core"
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
set grid ytics
set key left top
plot dir."/macro_mdd_load.steps.tsv" using 1:2 with linespoints lw 2 title "MDD out, packets/s (wall)", \
     "" using 1:3 with linespoints lw 2 title "forwarded per MDD CPU-second", \
     100000 with lines dt 2 lc rgb "red" title "target 100000 per core", \
     "" using 1:4 axes x1y2 with linespoints dt 3 title "MDD CPU share", \
     "" using 1:5 axes x1y2 with linespoints dt 3 title "load generators' CPU share"
