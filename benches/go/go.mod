module conpat/benches/go

go 1.19
