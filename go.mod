module github.com/paynotify/paynotify

go 1.26.0

require (
	github.com/Rhymond/go-money v1.0.15
	github.com/shopspring/decimal v1.6.0
	github.com/stretchr/testify v1.12.1
)

require go.yaml.in/yaml/v3 v3.0.5 // indirect
