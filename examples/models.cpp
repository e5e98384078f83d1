// The main job: fit models on data sets that ship with R, across four
// daemons, and check every estimate against the same fits run one after
// another in the host's R.
//
// 1. A linear model per group: mpg ~ wt + hp on mtcars, by cylinders.
// 2. A bootstrap of a regression on airquality: Ozone ~ Solar.R + Wind +
//    Temp, refitted on 5,000 resamples, each drawn after set.seed(i), so
//    the resamples do not depend on which daemon runs them.
#include "host/mirai.hpp"

#include <RInside.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <iostream>

namespace mh = mirai::host;

namespace {

constexpr int daemon_count = 4;
constexpr int resamples = 5000;
constexpr int chunk_size = 125;

// Defined in the host's global environment; the functions travel to the
// daemons with each task.
const char* const model_code = R"(
fit_group <- function(d) {
    fit <- lm(mpg ~ wt + hp, data = d)
    ci <- confint(fit)
    data.frame(term = names(coef(fit)), estimate = unname(coef(fit)),
               lower = unname(ci[, 1]), upper = unname(ci[, 2]),
               n = nrow(d))
}
boot_chunk <- function(seeds, data) {
    t(vapply(seeds, function(s) {
        set.seed(s)
        rows <- sample.int(nrow(data), replace = TRUE)
        coef(lm(Ozone ~ Solar.R + Wind + Temp, data = data[rows, ]))
    }, numeric(4)))
}
groups <- split(mtcars, mtcars$cyl)
air <- na.omit(airquality)
chunks <- split(seq_len(RESAMPLES), ceiling(seq_len(RESAMPLES) / CHUNK))
group_table <- function(fits) {
    out <- do.call(rbind, Map(function(cyl, f) cbind(cyl = cyl, f),
                              names(fits), fits))
    rownames(out) <- NULL
    out
}
boot_table <- function(draws) {
    full <- coef(lm(Ozone ~ Solar.R + Wind + Temp, data = air))
    q <- apply(draws, 2, quantile, probs = c(0.025, 0.975))
    data.frame(term = names(full), estimate = unname(full),
               boot_se = unname(apply(draws, 2, sd)),
               lower_95 = unname(q[1, ]), upper_95 = unname(q[2, ]))
}
)";

double seconds_since(std::chrono::steady_clock::time_point start)
{
    std::chrono::duration<double> d = std::chrono::steady_clock::now() - start;
    return d.count();
}

void print_table(const std::string& title, SEXP table)
{
    std::printf("\n%s\n", title.c_str());
    std::fflush(stdout);
    Rcpp::Function print("print");
    print(table, Rcpp::Named("digits") = 4, Rcpp::Named("row.names") = false);
}

} // namespace

int main()
{
    try {
        mh::session session;
        RInside& r = session.r();
        std::string code = model_code;
        r.parseEvalQ("RESAMPLES <- " + std::to_string(resamples) +
                     "; CHUNK <- " + std::to_string(chunk_size));
        r.parseEvalQ(code);

        auto start = std::chrono::steady_clock::now();
        mh::daemons(daemon_count);
        double startup = seconds_since(start);

        // Parallel: both maps are submitted before either is collected.
        start = std::chrono::steady_clock::now();
        mh::map_result group_map =
            mh::mirai_map(r.parseEval("groups"), "fit_group");
        mh::map_result boot_map =
            mh::mirai_map(r.parseEval("chunks"), "boot_chunk",
                          {{"data", Rcpp::RObject(r.parseEval("air"))}});
        Rcpp::List group_fits = group_map.collect_or_throw();
        Rcpp::List boot_parts = boot_map.collect_or_throw();
        double parallel = seconds_since(start);

        // Sequential: the same functions and seeds in the host's R.
        start = std::chrono::steady_clock::now();
        Rcpp::List group_seq = r.parseEval("lapply(groups, fit_group)");
        Rcpp::NumericMatrix boot_seq =
            r.parseEval("boot_chunk(seq_len(RESAMPLES), air)");
        double sequential = seconds_since(start);

        r["group_fits"] = group_fits;
        r["boot_draws"] = Rcpp::Function("do.call")("rbind", boot_parts);
        r["group_seq"] = group_seq;
        r["boot_seq"] = boot_seq;

        print_table("Linear model mpg ~ wt + hp per cylinder group (mtcars), "
                    "95% confidence intervals:",
                    r.parseEval("group_table(group_fits)"));
        print_table("Bootstrap of Ozone ~ Solar.R + Wind + Temp (airquality, "
                    + std::to_string(resamples) + " resamples), percentile "
                    "95% intervals:",
                    r.parseEval("boot_table(boot_draws)"));

        bool groups_same = Rcpp::as<bool>(r.parseEval(
            "identical(unname(group_fits), unname(group_seq))"));
        bool boot_same = Rcpp::as<bool>(r.parseEval(
            "identical(unname(boot_draws), unname(boot_seq))"));
        std::printf("\nCheck against sequential fits in the host's R:\n");
        std::printf("  %d group fits identical: %s\n", Rf_length(group_fits),
                    groups_same ? "yes" : "NO");
        std::printf("  %d bootstrap estimates identical: %s\n",
                    resamples * 4, boot_same ? "yes" : "NO");

        std::printf("\nWall time (%d daemons ready in %.3f s):\n",
                    daemon_count, startup);
        std::printf("  parallel:   %.3f s\n", parallel);
        std::printf("  sequential: %.3f s\n", sequential);
        std::printf("  speed-up:   %.2fx\n", sequential / parallel);

        mh::daemons(0);
        return groups_same && boot_same ? 0 : 1;
    } catch (const std::exception& e) {
        std::cerr << "models: " << e.what() << "\n";
        return 1;
    }
}
