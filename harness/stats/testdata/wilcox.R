# Reference values for harness/stats's Mann-Whitney U test (mannwhitney_test.go).
#
# Tool: R 4.2.2 Patched (2022-11-10 r83330), stats::wilcox.test, Debian
# package r-base-core. Rerun with:
#
#   Rscript harness/stats/testdata/wilcox.R
#
# and paste its output into the wilcoxCases table of mannwhitney_test.go.
#
# Every case is wilcox.test(x, y, conf.int = TRUE, conf.level = level,
# exact = FALSE, correct = TRUE): the two-sample, two-sided test with the
# normal approximation, tie correction and continuity correction, as
# Kayenta's MannWhitney ports it. R's interval ends and estimate are
# uniroot() answers (tol 1e-4) on a step function, so the script also prints
# them snapped to the nearest pairwise difference x[i] - y[j] (the exact
# step), and the Hodges-Lehmann estimate median(outer(x, y, "-")). Where R
# cannot give an interval (all observations tied at an end of the search
# range) it prints NaN for the interval and its p-value without conf.int.

cases <- list(
  list(name = "ordinary", level = 0.95,
       x = c(0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46),
       y = c(1.15, 0.88, 0.90, 0.74, 1.21)),
  list(name = "ordinary98", level = 0.98,
       x = c(0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46),
       y = c(1.15, 0.88, 0.90, 0.74, 1.21)),
  list(name = "shifted", level = 0.98,
       x = c(2.1, 3.4, 2.9, 4.2, 3.8, 5.0, 3.3, 4.7),
       y = c(1.0, 1.7, 0.4, 2.2, 1.3, 0.9, 1.8)),
  list(name = "ties", level = 0.95,
       x = c(1, 2, 2, 3, 3, 3, 4, 5),
       y = c(2, 3, 3, 4, 4, 5, 6, 6, 7)),
  list(name = "errorRates", level = 0.98,
       x = c(0, 0, 0.02, 0, 0.04, 0, 0.02, 0.06, 0.02, 0),
       y = c(0, 0, 0, 0.01, 0, 0, 0.01, 0, 0, 0, 0, 0.02)),
  list(name = "modular", level = 0.98,
       x = ((1:30 * 13) %% 37) / 4 + 1,
       y = ((1:30 * 11) %% 29) / 4),
  list(name = "constantEqual", level = 0.98, x = rep(0, 5), y = rep(0, 6)),
  list(name = "constantDifferent", level = 0.98, x = rep(0.1, 5), y = rep(0, 6)),
  list(name = "n1m1", level = 0.95, x = c(2), y = c(1)),
  list(name = "n1m3", level = 0.95, x = c(5), y = c(1, 2, 3)),
  list(name = "n2m2", level = 0.95, x = c(3, 4), y = c(1, 2)),
  list(name = "n3m3", level = 0.98, x = c(1.1, 2.5, 3.7), y = c(0.2, 1.9, 0.7)),
  list(name = "n3m2tied", level = 0.95, x = c(1, 1, 2), y = c(1, 2))
)

g <- function(v) if (is.na(v)) "math.NaN()" else sprintf("%.17g", v)

for (c in cases) {
  x <- c$x; y <- c$y
  d <- sort(unique(as.vector(outer(x, y, "-"))))
  snap <- function(v) if (is.na(v)) NA else d[which.min(abs(d - v))]
  hl <- median(outer(x, y, "-"))
  r <- tryCatch(
    suppressWarnings(wilcox.test(x, y, conf.int = TRUE, conf.level = c$level,
                                 exact = FALSE, correct = TRUE)),
    error = function(e) NULL)
  if (is.null(r)) {
    r <- suppressWarnings(wilcox.test(x, y, exact = FALSE, correct = TRUE))
    lo <- NA; hi <- NA; est <- NA
  } else {
    lo <- r$conf.int[1]; hi <- r$conf.int[2]; est <- unname(r$estimate)
    if (!is.finite(lo) || !is.finite(hi)) { lo <- NA; hi <- NA }
  }
  cat(sprintf("{name: \"%s\", level: %s, u: %s, p: %s, hl: %s, rEstimate: %s, lo: %s, hi: %s, loSnap: %s, hiSnap: %s},\n",
              c$name, g(c$level), g(unname(r$statistic)), g(r$p.value), g(hl), g(est),
              g(lo), g(hi), g(snap(lo)), g(snap(hi))))
}
