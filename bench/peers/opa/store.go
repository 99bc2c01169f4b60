package main

import (
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
)

func inmemStore(d interface{}) storage.Store {
	m, _ := d.(map[string]interface{})
	return inmem.NewFromObject(m)
}
