module github.com/riskgate/riskgate

go 1.26
