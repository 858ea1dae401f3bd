package kube

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeSkipsEmptyDocumentsAndNamesTheBadOne(t *testing.T) {
	objs, err := Decode(strings.NewReader("---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n---\n{\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"b\", \"namespace\": \"a\"}}\n"))
	require.NoError(t, err)
	require.Len(t, objs, 2)
	assert.Equal(t, "Namespace", objs[0].GetKind())
	assert.Equal(t, "a/b", nsName(objs[1]))

	_, err = DecodeBytes([]byte("apiVersion: v1\nkind: Namespace\n---\nkind: [unclosed\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "document 2")
}
