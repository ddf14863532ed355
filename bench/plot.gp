# PNG plots of one micro benchmark's results (bench/run.sh calls it with
# name='srtp' dir='bench/results'): the ratios with their min..max over the
# runs and the targets, and the median time per operation of each case.
set terminal pngcairo size 1200,700 noenhanced font ",9"
set datafile separator "\t"
set style fill solid 0.6 border -1
set boxwidth 0.6
set grid ytics
set xtics rotate by -40 left
set bmargin 12

set output dir."/".name."_ratios.png"
set title name.": ratio = baseline ns / ours ns (median, bar = min..max over runs; x = target)"
set ylabel "ratio"
set yrange [0:*]
plot dir."/".name.".ratios.tsv" using 0:3:xtic(2) with boxes title "median", \
     "" using 0:3:4:5 with yerrorbars pt 0 lc rgb "black" title "min..max", \
     "" using 0:($6 > 0 ? $6 : 1/0) with points pt 2 ps 2 lc rgb "red" title "target", \
     1 with lines dt 2 lc rgb "gray" title "1.0"

set output dir."/".name."_cases.png"
set title name.": time per operation (median over runs)"
set ylabel "ns per operation"
set logscale y
set yrange [*:*]
plot dir."/".name.".cases.tsv" using 0:3:xtic(2) with boxes title "median", \
     "" using 0:3:4:5 with yerrorbars pt 0 lc rgb "black" title "min..max"
