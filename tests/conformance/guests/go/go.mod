module nightcore.example/conformance

go 1.21
