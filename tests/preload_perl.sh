#!/bin/sh
# Debian's perl under LD_PRELOAD=libwheap.so, output compared with a plain
# run: a hash of 200,000 keys holding array references, sorting with a
# two-level comparison, regular expressions (matching and substitution over
# a long string), MD5 digests, deleting a tenth of the keys, a numeric sort
# of 200,000 numbers.  Skips until libwheap exports malloc, and where perl is
# missing.
set -u
. "${top_srcdir:-.}/tests/preload_common.sh"
pc_require_malloc
pc_require_program perl
pc_check_preload_active

cat >"$pc_tmp/work.pl" <<'PL'
use strict;
use warnings;
use Digest::MD5 qw(md5_hex);
my %h;
$h{"key$_"} = [$_, "v" . ($_ * 3), $_ % 17] for 0 .. 199999;
my @k = sort { $h{$a}[2] <=> $h{$b}[2] or $a cmp $b } keys %h;
my $matches = grep { /^key(\d*)7$/ } @k;
my $text = join(",", map { "$_=$h{$_}[1]" } @k[0 .. 49999]);
(my $swapped = $text) =~ s/key(\d+)=v(\d+)/$2:$1/g;
my %len;
$len{length $_}++ for @k;
delete @h{grep { /5$/ } keys %h};
print scalar(@k), " $k[0] $k[-1] $matches ", md5_hex($text), " ", md5_hex($swapped), "\n";
print join(",", map { "$_:$len{$_}" } sort { $a <=> $b } keys %len), " ", scalar(keys %h), "\n";
my @sorted = sort { $a <=> $b } map { ($_ * 7919) % 100003 } 1 .. 200000;
print "$sorted[0] $sorted[-1] $sorted[100000]\n";
PL
pc_compare perl 120 perl "$pc_tmp/work.pl"
pc_done
