Feature: Approved tickets are provisioned by a worker
  The "Provision Service" step is an external task on topic ticket-processing.
  Failures are retried; when the retries run out the ticket shows
  provisioning_failed until an admin retries it.

  Background:
    Given the users alice (requester), bob (manager), dave (manager) and carol (admin)

  Scenario: Provisioning fails, an admin retries, the ticket completes
    Given the provisioning backend is failing
    And alice has submitted a ticket "Build server"
    When bob approves the ticket
    And the provisioning worker has run
    Then the ticket is provisioning_failed
    And the process shows an incident
    And carol may retry provisioning
    When bob retries provisioning
    Then the request is refused with 403
    When the provisioning backend is working again
    And carol retries provisioning
    Then the request succeeds
    When the provisioning worker has run
    Then the ticket is completed with a fulfilment reference
    And the ticket's history reads created, submitted, approved, provisioning_failed, provisioning_retried, completed
