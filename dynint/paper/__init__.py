"""The paper's generated sources: number macros and LaTeX tables from results/*.json, the
tables' figures, and the build that compiles paper/main.tex when LaTeX is installed."""
