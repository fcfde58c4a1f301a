package cloudapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http/httptest"
	"time"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/sim"
)

// Example_tutorial replays Imply's Manager API tutorial against the
// simulator, over HTTP: create clusters-example, scale tier 1 up, read the
// resource version, read the previous version, stop, delete.
func Example_tutorial() {
	simulator, err := sim.New(sim.Config{ClientID: "portal", ClientSecret: "s3cret", Org: "acme", StageDuration: 5 * time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	server := httptest.NewServer(simulator)
	defer simulator.Close()
	defer server.Close()

	client, err := cloudapi.New(cloudapi.Config{
		BaseURL:      simulator.APIURL(server.URL),
		TokenURL:     simulator.TokenURL(server.URL),
		ClientID:     "portal",
		ClientSecret: "s3cret",
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	settled := func(id string) *cloudapi.Cluster {
		for {
			c, err := client.GetCluster(ctx, id)
			if err != nil {
				log.Fatal(err)
			}
			if !c.Status.State.Busy() {
				return c
			}
			time.Sleep(time.Millisecond)
		}
	}

	// 1. Create the cluster (the documented example body).
	var body cloudapi.Cluster
	if err := json.Unmarshal([]byte(documentedCreateBody), &body); err != nil {
		log.Fatal(err)
	}
	body.Metadata.Name = "clusters-example"
	created, err := client.CreateCluster(ctx, &body)
	if err != nil {
		log.Fatal(err)
	}
	id := created.Metadata.UID
	fmt.Println("created:", created.Metadata.Name, created.Status.State, created.Status.ResourceVersion)
	c := settled(id)
	fmt.Println("running:", c.Status.State, len(c.Status.Servers), "servers")

	// 2. Scale tier 1 up.
	scaled, err := client.UpdateCluster(ctx, id, json.RawMessage(`{"spec":{"data":{"tier1":{"replicas":2}}}}`))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("scaling:", scaled.Status.State, scaled.Status.ResourceVersion)
	c = settled(id)
	fmt.Println("running:", c.Status.State, len(c.Status.Servers), "servers")

	// 3. Read the resource version; 4. read the version before it.
	fmt.Println("resource version:", c.Status.ResourceVersion)
	previous, err := client.GetClusterVersion(ctx, id, c.Status.ResourceVersion-1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("previous tier 1 replicas:", *previous.Spec.Data.Tier1.Replicas)

	// 5. Stop the cluster.
	stopping, err := client.UpdateCluster(ctx, id, json.RawMessage(`{"spec":{"desiredState":"STOPPED"}}`))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("stopping:", stopping.Status.State, stopping.Status.ResourceVersion)
	c = settled(id)
	fmt.Println("stopped:", c.Status.State, len(c.Status.Servers), "servers")

	// 6. Delete it.
	if err := client.DeleteCluster(ctx, id); err != nil {
		log.Fatal(err)
	}
	_, err = client.GetCluster(ctx, id)
	fmt.Println("deleted:", cloudapi.IsNotFound(err))

	// Output:
	// created: clusters-example PENDING 0
	// running: STARTED 5 servers
	// scaling: UPDATING 1
	// running: STARTED 6 servers
	// resource version: 1
	// previous tier 1 replicas: 1
	// stopping: UPDATING 2
	// stopped: STOPPED 0 servers
	// deleted: true
}
