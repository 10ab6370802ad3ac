# Charts of the benchmark suite; scripts/bench.sh calls it with -e:
#
#   kind = "ratio"   bars per workload, one per allocator, from `data`
#                    (whitespace table, header row, workload first, one column
#                    per allocator); y on a log scale from ymin to ymax, a
#                    line at 1 for `baseline`
#   kind = "lines"   RSS over time: `files` and `names` are space-separated
#                    lists, each file a CSV time_s,rss_kib,phase; t1 and t2
#                    mark when the baseline run freed 90 % and all (0: none)
#   colors           one "#rrggbb" per allocator column or file, so an
#                    allocator keeps its colour in every chart
#   out, title, ylabel
#
# gnuplot 5; PNG through pngcairo when present, else libgd's png.

if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
    set terminal pngcairo size 1200,620 enhanced font "sans,11" linewidth 1.2
} else {
    set terminal png size 1200,620 enhanced font "sans,11"
}
set output out
set title title font ",14"
set ylabel ylabel
set grid ytics lc rgb "#d0d0d0" lt 1
set border 3
set tics nomirror
set key top left horizontal reverse Left samplen 1.5 box opaque

if (kind eq "ratio") {
    stats data using 0 nooutput
    set style data histograms
    set style histogram clustered gap 1.5
    set style fill solid 0.85 border -1
    set boxwidth 0.9
    set logscale y 2
    set yrange [ymin:ymax]
    set ytics ("1/8" 0.125, "1/4" 0.25, "1/2" 0.5, "1" 1, "2" 2, "4" 4, "8" 8, "16" 16, "32" 32)
    set xtics rotate by -30 left
    plot for [i=2:ncols] data using i:xtic(1) title columnheader(i) lc rgb word(colors, i - 1), \
         1 with lines lw 2 dt 2 lc rgb "black" title baseline . " = 1"
}

if (kind eq "lines") {
    set datafile separator ","
    set xlabel "time (s)"
    set key top right vertical noreverse Right
    set yrange [0:*]
    set format y "%.0f"
    if (t1 > 0) {
        set arrow 1 from first t1, graph 0 to first t1, graph 1 nohead dt 3 lc rgb "#808080"
        set label 1 "free 90 %" at first t1, graph 0.96 left offset 0.5, 0 tc rgb "#606060"
    }
    if (t2 > 0) {
        set arrow 2 from first t2, graph 0 to first t2, graph 1 nohead dt 3 lc rgb "#808080"
        set label 2 "free all" at first t2, graph 0.96 left offset 0.5, 0 tc rgb "#606060"
    }
    plot for [i=1:words(files)] word(files, i) using 1:($2 / 1024.0) every ::1 \
         with lines lw 2 lc rgb word(colors, i) title word(names, i)
}
